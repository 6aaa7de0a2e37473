"""Passthrough: the frame clears to alpha 0, the room shell is left out, and the table, the people
and the hands stay opaque — so a compositor shows the real room exactly where nothing virtual is."""

import numpy as np
import pytest

from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.views import eye_views
from xrdemo.render.renderer import project_points

SIZE = (192, 108)


@pytest.mark.parametrize("shape", ["round", "rect"])
def test_passthrough_shows_the_room_only_where_nothing_virtual_is(renderer, shape):
    from xrdemo.core.room import Table

    state = S.make_meeting(5, table=Table(shape=shape), seed=1)
    state, scene = S.step(state, None, 2_000_000_000)
    eye = state.people.head_pos[0]
    _, rot = P.look_at(eye, [0.0, state.table.height + 0.3, 0.0])
    view = eye_views(eye, rot, SIZE)[0]
    try:
        renderer.passthrough = False
        opaque = renderer.render_to_arrays(scene, [view], SIZE, samples=1)[0]
        renderer.passthrough = True
        mixed = renderer.render_to_arrays(scene, [view], SIZE, samples=1)[0]
    finally:
        renderer.passthrough = False
    assert (opaque[..., 3] == 255).all(), "without passthrough every pixel is opaque"
    alpha = mixed[..., 3]
    # the walls, floor and ceiling are gone: most of the picture is the real room
    assert (alpha == 0).mean() > 0.3, (alpha == 0).mean()
    # the table centre and a person across the table are still drawn, opaque
    far = int(np.argmax(np.linalg.norm(state.people.head_pos - eye, axis=1)))
    across = state.people.head_pos[far]
    for point in ([0.0, state.table.height, 0.0], across):
        col, row = np.round(project_points(view, SIZE, [point])[0]).astype(int)
        assert alpha[row, col] > 240, (point, alpha[row, col])
    # where something virtual is drawn it looks the same as without passthrough
    drawn = alpha == 255
    diff = np.abs(mixed[..., :3].astype(int) - opaque[..., :3].astype(int))[drawn]
    assert np.median(diff) <= 2


@pytest.mark.parametrize("shape", ["round", "rect"])
def test_the_room_shell_is_exactly_the_first_instances_of_each_kind(shape):
    """What passthrough leaves out is the floor, walls, ceiling, wall things, rug and lamp; the
    table and every chair stay."""
    from xrdemo.core.room import Table, room_shell

    state = S.make_meeting(6, table=Table(shape=shape), seed=0)
    _, scene = S.step(state, None, 0)
    shell = room_shell(state.table)
    assert shell == scene.shell
    reach = np.abs(state.seat_pos[:, [0, 2]]).max() + 0.5        # the table and chairs fit in here
    for kind, count in shell.items():
        m = scene.meshes[kind].transforms
        kept = m[count:]                                         # table, legs, chairs
        assert np.all(np.abs(kept[:, [0, 2], 3]) <= reach), kind
        assert np.all(kept[:, 1, 3] < state.table.height + 0.5), f"{kind}: something high was kept"
        dropped = m[:count]
        scale = np.linalg.norm(dropped[:, :3, :3], axis=1).max(axis=1)
        # each dropped instance is big (walls, floor, rug) or hangs from the ceiling (lamp)
        assert np.all((scale > reach) | (dropped[:, 1, 3] > 1.5) | (np.abs(dropped[:, [0, 2], 3]).max(1) > reach)), kind

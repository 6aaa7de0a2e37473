"""Passthrough end to end without a headset: the renderer in passthrough mode draws a meeting into
the simulated runtime, which composites its synthetic camera under it by alpha. The real room (the
camera's pattern) shows where the room shell used to be; the table and the people stay."""

import numpy as np
import pytest

from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.views import eye_views
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.simulated_camera import camera_image
from xrdemo.platform.timeline import Timeline
from xrdemo.render.renderer import project_points

SIZE = (160, 90)


def is_camera(pixels: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.all(np.abs(pixels[..., :3].astype(int) - expected.astype(int)) <= 1, axis=-1)


@pytest.mark.parametrize("samples", [1, 4])
def test_the_real_room_shows_around_the_table_and_the_people(egl, samples):
    from xrdemo.render.renderer import Framebuffer, Renderer

    egl.make_current()
    state = S.make_meeting(5, seed=1)
    state, scene = S.step(state, None, 2_000_000_000)
    eye = state.people.head_pos[0]
    _, rot = P.look_at(eye, [0.0, state.table.height + 0.3, 0.0])
    view = eye_views(eye, rot, SIZE)[0]
    renderer = Renderer()
    target = Framebuffer(SIZE, samples=samples)
    platform = SimulatedPlatform(Timeline(head=lambda t: (eye, rot), hands=None), view_count=1, view_size=SIZE,
                                 framebuffer_for=lambda i, size: target.draw_fbo)

    def draw(i, platform_view, fbo, size):
        renderer.draw_view(view, fbo, size)      # the app's own (room) view, as the seat transform gives

    pictures = {}
    for on in (False, True):
        renderer.passthrough = on                # the renderer leaves the shell out, clears to alpha 0
        renderer.upload(scene)
        assert platform.set_passthrough(on) == on
        f = platform.begin_frame()
        platform.end_frame(f, draw)
        pictures[on] = target.read_rgba()
    platform.shutdown()
    room = (camera_image(*SIZE)[::-1] * 255).round()           # top row first, like read_rgba
    shown = is_camera(pictures[True], room)
    assert (pictures[True][..., 3] == 255).all()               # the composite is opaque
    assert shown.mean() > 0.3, shown.mean()                    # most of the picture is the real room
    assert is_camera(pictures[False], room).mean() < 0.01      # without passthrough: none of it
    far = int(np.argmax(np.linalg.norm(state.people.head_pos - eye, axis=1)))
    for point in ([0.0, state.table.height, 0.0], state.people.head_pos[far]):   # table centre, a face
        col, row = np.round(project_points(view, SIZE, [point])[0]).astype(int)
        assert not shown[row, col], point
        np.testing.assert_allclose(pictures[True][row, col, :3].astype(int), pictures[False][row, col, :3].astype(int),
                                   atol=3)

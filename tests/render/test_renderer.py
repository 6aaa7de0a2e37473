"""Real OpenGL on Mesa's software renderer: pixels where the core's maths says, constant draw calls."""

import numpy as np
import pytest

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.frame import Capsules, FrameScene, MeshInstances, View
from xrdemo.core.views import eye_views
from xrdemo.render.renderer import Framebuffer, GLError, project_points

SIZE = (320, 180)


def test_context_is_core_profile_33_or_newer(gl_context):
    from xrdemo.render.context import gl_info

    info = gl_info()
    major, minor = (int(v) for v in info["version"].split()[0].split(".")[:2])
    assert (major, minor) >= (3, 3)
    assert "Core" in info["version"]


def seat_view(state, k=0, size=SIZE):
    eye = state.people.head_pos[k]
    _, rot = P.look_at(eye, [0.0, state.table.height + 0.2, 0.0])
    return eye_views(eye, rot, size)[0]


def test_table_centre_pixel_is_table_coloured(renderer):
    state = S.make_meeting(4, seed=0)
    state, frame = S.step(state, None, 1_000_000_000)
    view = seat_view(state)
    img = renderer.render_to_arrays(frame, [view], SIZE)[0]
    assert img.shape == (SIZE[1], SIZE[0], 4)
    col, row = np.round(project_points(view, SIZE, [[0.0, state.table.height, 0.0]])[0]).astype(int)
    r, g, b = img[row, col, :3].astype(int)
    assert r > g + 20 > b + 20, f"table centre pixel {r, g, b} is not warm wood"


def test_fingertip_pixel_shows_the_hand(renderer):
    """A single bright green hand: the projected index fingertip is green, the background not."""
    local = H.POSE_LIBRARY[H.pose_index("point")][None]
    wrist = np.array([[0.0, 1.0, -0.6]])
    q = P.quat_from_axis_angle([1, 0, 0], np.radians(90))[None]     # fingers up, palm toward -Z
    joints = H.hands_to_stage(wrist, q, local, np.array([False]))
    caps = H.hand_capsules(joints, H.TYPICAL_RADII[None], np.ones((1, 26), bool), [[0.05, 0.9, 0.1]])
    frame = FrameScene(capsules=caps, clear_color=np.array([0.0, 0.0, 0.3, 1.0]))
    view = View(np.zeros(3) + [0, 1.05, 0], P.IDENTITY_QUAT.copy(), P.symmetric_fov(60, SIZE[0] / SIZE[1]))
    img = renderer.render_to_arrays(frame, [view], SIZE)[0]
    tip = joints[0, H.JOINT["index_tip"]] - [0, H.TYPICAL_RADII[H.JOINT["index_tip"]] * 0.5, 0]
    col, row = np.round(project_points(view, SIZE, [tip])[0]).astype(int)
    r, g, b = img[row, col, :3].astype(int)
    assert g > 120 and g > r + 60 and g > b + 40, f"fingertip pixel {r, g, b} is not the hand's green"
    # above the tip there is background only
    r, g, b = img[max(row - 12, 0), col, :3].astype(int)
    assert b > g, "background expected above the fingertip"


def test_draw_calls_do_not_grow_with_people(renderer):
    calls = {}
    for n in (2, 8, 16):
        state = S.make_meeting(n, seed=1)
        state, frame = S.step(state, None, 2_000_000_000)
        renderer.render_to_arrays(frame, [seat_view(state)], (96, 54), samples=1)
        calls[n] = renderer.stats["draw_calls_per_view"]
        assert len(frame.capsules) >= (n - 0) * 2 * 20 - 1   # the work did grow
        assert len(frame.faces) == n - 1                     # every other person's face
    assert calls[2] == calls[8] == calls[16] == 6           # 3 unit meshes, heads, capsules, tags


def test_stereo_views_differ_by_parallax(renderer):
    state = S.make_meeting(3, seed=0)
    state, frame = S.step(state, None, 0)
    eye = state.people.head_pos[0]
    _, rot = P.look_at(eye, [0, state.table.height, 0])
    left, right = renderer.render_to_arrays(frame, eye_views(eye, rot, SIZE, stereo=True), SIZE)
    assert not np.array_equal(left, right)
    assert np.mean(np.abs(left.astype(int) - right.astype(int))) < 40   # same scene, small shift


def test_bad_target_size_is_refused(gl_context):
    with pytest.raises(ValueError, match="must be positive"):
        Framebuffer((0, 10), 1)


def test_shader_errors_are_reported_not_ignored(gl_context, monkeypatch, tmp_path):
    from xrdemo.render import renderer as R

    monkeypatch.setattr(R, "read_shader", lambda name: "#version 330 core\nthis is not glsl;\n")
    with pytest.raises(GLError, match="failed to compile"):
        R._compile("mesh.vert", "lit.frag")


def test_name_tags_are_drawn_facing_the_view(renderer):
    from xrdemo.core.frame import Labels
    from xrdemo.render.labels import rasterise_texts

    atlas, rects, aspects = rasterise_texts(("Ada", "Grace Hopper"))
    assert atlas.shape[0] > 10 and atlas.max() > 200            # glyphs were drawn
    assert aspects[1] > aspects[0] > 1.0                        # longer names make wider tags
    view = View(np.array([0.0, 1.2, 1.0]), P.IDENTITY_QUAT.copy(), P.symmetric_fov(60, SIZE[0] / SIZE[1]))
    frame = FrameScene(labels=Labels(np.array([[0.0, 1.2, 0.0]], np.float32), ("Grace Hopper",),
                                     np.array([[0.9, 0.1, 0.1, 1.0]], np.float32), height=0.2),
                       clear_color=np.array([0.0, 0.0, 0.0, 1.0]))
    img = renderer.render_to_arrays(frame, [view], SIZE)[0].astype(int)
    assert renderer.stats["draw_calls_per_view"] == 1
    col, row = np.round(project_points(view, SIZE, [[0.0, 1.2, 0.0]])[0]).astype(int)
    tag = img[row - 12:row + 12, col - 60:col + 60, :3]
    red = (tag[..., 0] > 150) & (tag[..., 1] < 100)
    white = (tag.min(axis=-1) > 200)
    assert red.mean() > 0.3 and white.mean() > 0.02, "a red plate with white text"
    assert img[5, 5, :3].max() < 10                             # background untouched

"""People's faces on Mesa's software renderer: expressions move pixels, eyes turn to their gaze,
skin is a skin tone (the UI colour is on the clothes), name tags stay readable far away."""

from dataclasses import replace

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.frame import FaceInstances, FrameScene, Labels
from xrdemo.core.views import eye_views
from xrdemo.render.renderer import project_points

SIZE = (240, 240)


def _one_face(expr=None, eyes=(0.0, 0.0, -1.0, 1.5), skin=(0.45, 0.25, 0.16, 0.5)):
    t = np.eye(4, dtype=np.float32)[None].copy()
    t[0, :3, 3] = [0.0, 1.2, 0.0]
    w = E.neutral(1) if expr is None else np.asarray(expr, np.float32)[None]
    faces = FaceInstances(t, np.array([skin], np.float32), np.array([[0.03, 0.02, 0.01, 1.0]], np.float32),
                          np.array([eyes], np.float32), w)
    return FrameScene(faces=faces, clear_color=np.array([0.0, 0.0, 0.25, 1.0]))


def _front_view():
    """From 0.35 m in front of the face (the head looks along -Z, so the camera sits at -Z)."""
    eye, rot = P.look_at([0.0, 1.17, -0.35], [0.0, 1.17, 0.0])
    return eye_views(eye, rot, SIZE, horizontal_fov_deg=40.0)[0]


def _render(renderer, frame):
    return renderer.render_to_arrays(frame, [_front_view()], SIZE)[0][..., :3].astype(int)


def test_a_face_is_drawn_in_skin_tone(renderer):
    img = _render(renderer, _one_face())
    col, row = np.round(project_points(_front_view(), SIZE, [[0.03, 1.16, -0.05]])[0]).astype(int)
    r, g, b = img[row, col]                                   # the cheek
    assert r > g > b and r > 60, (r, g, b)


def test_each_blend_shape_of_the_mouth_and_brows_moves_pixels(renderer):
    base = _render(renderer, _one_face())
    for name in ("jaw_open", "lip_funnel", "lip_stretch", "smile_left", "frown", "brow_inner_up",
                 "brow_down_right", "lid_close_left", "eye_wide_right", "lower_lip_tuck"):
        w = np.zeros(E.EXPRESSION_COUNT)
        w[E.INDEX[name]] = 1.0
        img = _render(renderer, _one_face(w))
        changed = (np.abs(img - base).sum(axis=-1) > 40).sum()
        assert changed > 15, (name, changed)


def test_jaw_open_shows_a_dark_mouth_below_the_nose(renderer):
    w = np.zeros(E.EXPRESSION_COUNT)
    w[E.INDEX["jaw_open"]] = 1.0
    closed, open_ = _render(renderer, _one_face()), _render(renderer, _one_face(w))
    col, row = np.round(project_points(_front_view(), SIZE, [[0.0, 1.2 - 0.062, -0.04]])[0]).astype(int)
    patch = lambda im: im[row - 2:row + 3, col - 3:col + 4].mean()
    assert patch(open_) < 0.6 * patch(closed), (patch(open_), patch(closed))


def test_eyes_turn_to_their_gaze(renderer):
    """The dark pupil moves across the eye when the eyes turn left then right."""
    a = np.radians(20.0)
    left = _render(renderer, _one_face(eyes=(-np.sin(a), 0.0, -np.cos(a), 1.5)))
    right = _render(renderer, _one_face(eyes=(np.sin(a), 0.0, -np.cos(a), 1.5)))
    view = _front_view()
    eye_c = project_points(view, SIZE, [[0.031, 1.2, -0.01]])[0]
    row = int(round(eye_c[1]))
    cols = np.arange(int(eye_c[0]) - 8, int(eye_c[0]) + 9)

    def darkest(img):
        return cols[np.argmin(img[row, cols].sum(axis=-1))]

    # Turning to the person's left (+yaw) moves the pupil toward the viewer's right (+column).
    assert darkest(left) > darkest(right) + 2


def test_scene_faces_use_skin_tones_and_clothes_carry_the_ui_colour():
    st = S.make_meeting(8, seed=2)
    st, fs = S.step(st, None, 1_000_000_000)
    skin = fs.faces.skin[:, :3]
    assert not np.allclose(skin, st.people.color[1:8].astype(np.float32), atol=0.1)
    assert skin.min(axis=0)[0] < 0.2 < skin.max(axis=0)[0]           # a range of tones
    assert np.all(skin[:, 0] >= skin[:, 1]) and np.all(skin[:, 1] >= skin[:, 2])
    from xrdemo.core.avatars import BODY_SPHERES

    body = fs.meshes["sphere"].colors[:BODY_SPHERES * 7, :3]
    assert np.allclose(body[0::BODY_SPHERES], st.people.color[1:8], atol=1e-6)  # chests: UI colour


def test_far_name_tags_keep_a_readable_height(renderer):
    """A tag 6 m away would be ~5 px tall at 640x360; it is drawn at least ~17 px tall."""
    size = (640, 360)
    eye, rot = P.look_at([0.0, 1.2, 0.0], [0.0, 1.2, -6.0])
    view = eye_views(eye, rot, size, horizontal_fov_deg=80.0)[0]
    labels = Labels(positions=np.array([[0.0, 1.2, -6.0]], np.float32), texts=("Grace",),
                    colors=np.array([[0.9, 0.1, 0.1, 1.0]], np.float32))
    frame = FrameScene(labels=labels, clear_color=np.array([0.0, 0.0, 0.0, 1.0]))
    img = renderer.render_to_arrays(frame, [view], size)[0][..., :3].astype(int)
    tag = (img[..., 0] > 60) | (img.sum(axis=-1) > 300)
    rows = np.flatnonzero(tag.any(axis=1))
    assert rows.size and rows[-1] - rows[0] + 1 >= 15, rows
    metric_px = 0.055 / 6.0 / (2 * np.tan(np.radians(40)) * 9 / 16) * 360
    assert metric_px < 8                                              # what it would have been


def test_eyes_converge_on_a_near_point(renderer):
    """Looking at a point 0.12 m ahead, the pupils sit nearer the nose than looking 5 m away."""
    near = _render(renderer, _one_face(eyes=(0.0, 0.0, -1.0, 0.12)))
    far = _render(renderer, _one_face(eyes=(0.0, 0.0, -1.0, 5.0)))
    view = _front_view()
    centres = project_points(view, SIZE, [[-0.031, 1.2, -0.01], [0.031, 1.2, -0.01]])

    def pupil_cols(img):
        """Darkness-weighted centre column of each eye's iris and pupil (the darkest pixels)."""
        cols = []
        for cx, cy in centres:
            c = np.arange(int(cx) - 7, int(cx) + 8)
            r = int(round(cy))
            dark = img[r - 1:r + 2, c].sum(axis=-1).mean(axis=0)
            w = np.maximum(dark.max() - dark - 0.5 * np.ptp(dark), 0.0)
            cols.append(float((w * c).sum() / w.sum()))
        return cols

    (nl, nr), (fl, fr) = pupil_cols(near), pupil_cols(far)
    assert abs(nr - nl) < abs(fr - fl) - 2, (nl, nr, fl, fr)   # closer together: converged

"""The in-headset menu drawn with real OpenGL (Mesa llvmpipe through EGL): buttons and their
labels readable in a 640x360 view at about 0.45 m, pressed and on states visible, the controller
ray drawn, one draw call however many quads."""

import numpy as np
import pytest

from xrdemo.core import menu as M
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.frame import FrameScene
from xrdemo.core.menu import MenuAction, MenuState, PanelScene, menu_step
from xrdemo.core.views import eye_views
from xrdemo.render.renderer import project_points

SIZE = (640, 360)
HEAD = np.array([0.0, 1.2, 1.0])
BACKGROUND = np.array([0.2, 0.25, 0.3, 1.0])


def srgb(linear):
    c = np.clip(np.asarray(linear, float)[:3], 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055) * 255


def open_panel(toggles=None, aim_at=None, trigger=0.0):
    """A button-opened panel in front of HEAD; optionally a right-controller ray at button aim_at,
    pulled to ``trigger`` on a second frame. Returns (state, panel, actions, haptics)."""
    kw = dict(head_pos=HEAD, head_rot=P.IDENTITY_QUAT, joints=np.zeros((2, 26, 3)),
              joints_valid=np.zeros((2, 26), bool), aim_pos=np.zeros((2, 3)),
              aim_rot=np.tile(P.IDENTITY_QUAT, (2, 1)), aim_valid=np.zeros(2, bool),
              trigger=np.zeros(2), toggles=toggles or {}, volume=0.8)
    state, actions, haptics, panel = menu_step(MenuState(), t_ns=10**9, menu_button=np.array([True, False]), **kw)
    if aim_at is not None:
        c = M.button_centres_room(state)[aim_at]
        kw["aim_pos"][1] = HEAD + np.array([0.2, -0.3, -0.1])
        kw["aim_rot"][1] = P.look_rotation(c - kw["aim_pos"][1])
        kw["aim_valid"][1] = True
        kw["trigger"] = np.array([0.0, trigger])
        state, actions, haptics, panel = menu_step(state, t_ns=10**9 + 14_000_000,
                                                   menu_button=np.zeros(2, bool), **kw)
    return state, panel, actions, haptics


def view_of(state):
    _, rot = P.look_at(HEAD, state.panel_pos)
    return eye_views(HEAD, rot, SIZE)[0]


def render(renderer, panel, view, scene=None):
    renderer.upload_panel(panel)
    img = renderer.render_to_arrays(scene or FrameScene(clear_color=BACKGROUND), [view], SIZE)[0]
    return img[..., :3].astype(int), renderer.stats["draw_calls_per_view"]


def quad_box(panel, q, view, inset=0.0):
    """Pixel box (c0, r0, c1, r1) of quad q's corners, shrunk by ``inset`` of its size each side."""
    m = panel.transforms[q].astype(float)
    a = 0.5 - inset
    corners = np.array([[x, y, 0.0, 1.0] for x in (-a, a) for y in (-a, a)]) @ m.T
    px = project_points(view, SIZE, corners[:, :3])
    (c0, r0), (c1, r1) = np.floor(px.min(0)).astype(int), np.ceil(px.max(0)).astype(int)
    return c0, r0, c1, r1


def test_buttons_and_labels_are_readable_at_640x360(renderer):
    state, panel, _, _ = open_panel()
    view = view_of(state)
    assert 0.38 < np.linalg.norm(state.panel_pos - HEAD) < 0.5
    img, calls = render(renderer, panel, view)
    assert calls == 1
    crops = []
    for q in range(2, len(panel)):
        c0, r0, c1, r1 = quad_box(panel, q, view)
        assert c1 - c0 >= 55 and r1 - r0 >= 30, f"button {panel.labels[q]} is only {c1 - c0}x{r1 - r0} px"
        # the button's own colour at its edge, where no text is
        edge = img[r0 + 3, (c0 + c1) // 2]
        np.testing.assert_allclose(edge, srgb(panel.colors[q]), atol=12)
        # its label: light strokes on it, at least 9 px tall (cap height) and wider than tall
        cb = quad_box(panel, q, view, inset=0.06)
        crop = img[cb[1]:cb[3], cb[0]:cb[2]]
        ink = np.abs(crop - srgb(panel.colors[q])).sum(-1) > 150
        rows, cols = np.nonzero(ink.any(1))[0], np.nonzero(ink.any(0))[0]
        assert len(rows) and rows[-1] - rows[0] + 1 >= 9, f"label {panel.labels[q]!r} too small"
        assert cols[-1] - cols[0] > 2 * (rows[-1] - rows[0]) or len(panel.labels[q]) < 6
        crops.append(ink[:26, :60])
    # every label draws differently
    for i in range(len(crops)):
        for j in range(i + 1, len(crops)):
            assert (crops[i] != crops[j]).mean() > 0.02
    # nothing of the panel outside its back plate
    c0, r0, c1, r1 = quad_box(panel, 0, view)
    outside = img.copy()
    outside[max(r0 - 2, 0):r1 + 2, max(c0 - 2, 0):c1 + 2] = srgb(BACKGROUND)
    assert np.abs(outside - srgb(BACKGROUND)).max() <= 2


def test_pressed_and_on_states_change_the_pixels(renderer):
    state, panel, _, _ = open_panel()
    view = view_of(state)
    base, _ = render(renderer, panel, view)
    b = M.BUTTON_ACTIONS.index(MenuAction.RECENTER)
    _, pressed_panel, actions, haptics = open_panel(aim_at=b, trigger=1.0)
    assert actions == [MenuAction.RECENTER] and haptics == [1]
    assert pressed_panel.pressed[2 + b] and pressed_panel.pressed.sum() == 1
    pressed, _ = render(renderer, pressed_panel, view)
    _, on_panel, _, _ = open_panel(toggles={MenuAction.MUTE: True})
    on, _ = render(renderer, on_panel, view)
    for q in range(2, len(panel)):
        c0, r0, c1, r1 = quad_box(panel, q, view, inset=0.2)
        edge = (slice(r0 - 1, r0 + 2), slice(c0, c0 + 4))          # button colour, left of the label
        differs_pressed = np.abs(pressed[edge].mean((0, 1)) - base[edge].mean((0, 1))).max() > 30
        differs_on = np.abs(on[edge].mean((0, 1)) - base[edge].mean((0, 1))).max() > 30
        assert differs_pressed == (q == 2 + b), f"quad {q} pressed look"
        assert differs_on == (panel.actions[q] is MenuAction.MUTE), f"quad {q} on look"


def test_the_controller_ray_is_drawn_to_the_button(renderer):
    state, panel, _, _ = open_panel(aim_at=4)
    view = view_of(state)
    assert panel.ray_visible[1] and panel.ray_hit[1]
    img, calls = render(renderer, panel, view)
    assert calls == 1                                            # rays share the panel's draw
    a, b = panel.ray_start[1], panel.ray_end[1]
    hits = 0
    for f in np.linspace(0.55, 0.85, 7):                         # along the ray, off the panel
        col, row = np.round(project_points(view, SIZE, [a + f * (b - a)])[0]).astype(int)
        if 0 <= col < SIZE[0] and 0 <= row < SIZE[1]:
            near = img[max(row - 2, 0):row + 3, max(col - 2, 0):col + 3].reshape(-1, 3)
            hits += bool(np.any(np.abs(near - srgb(M.RAY_COLOR)).max(-1) < 60))
    assert hits >= 4
    no_ray = PanelScene(**{**panel.__dict__, "ray_visible": np.zeros(2, bool)})
    img2, _ = render(renderer, no_ray, view)
    assert np.abs(img2 - img).sum() > 0


def synthetic_panel(n):
    """A PanelScene of n labelled quads in a row 0.5 m ahead of HEAD."""
    m = np.zeros((n, 4, 4), np.float32)
    m[:, 0, 0], m[:, 1, 1], m[:, 2, 2], m[:, 3, 3] = 0.02, 0.015, 1.0, 1.0
    m[:, 0, 3] = np.linspace(-0.2, 0.2, n)
    m[:, 1, 3], m[:, 2, 3] = HEAD[1], HEAD[2] - 0.5
    labels = tuple(f"b{i}" for i in range(n))
    z = np.zeros(n, bool)
    return PanelScene(m, np.tile([0.5, 0.1, 0.1, 1.0], (n, 1)).astype(np.float32),
                      np.ones((n, 4), np.float32), labels, (MenuAction.MUTE,) * n, z, z.copy(), z.copy(),
                      np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32),
                      np.zeros(2, bool), np.zeros(2, bool), np.ones(n, bool))


def test_draw_calls_stay_constant_as_buttons_are_added(renderer):
    view = eye_views(HEAD, P.IDENTITY_QUAT, SIZE)[0]
    calls = {}
    for n in (3, 30, 120):
        img, calls[n] = render(renderer, synthetic_panel(n), view)
        red = (img[..., 0] > img[..., 2] + 60).sum()
        assert red > 40 * n ** 0.5, f"{n} quads drew too few pixels"
    assert calls == {3: 1, 30: 1, 120: 1}
    # with a meeting in view: the panel adds exactly one call; closed, none
    state = S.make_meeting(6, seed=0)
    state, scene = S.step(state, None, 10**9)
    _, with_panel = render(renderer, open_panel()[1], view, scene)
    _, closed = render(renderer, PanelScene.empty(), view, scene)
    _, none = render(renderer, None, view, scene)
    assert with_panel == closed + 1 and closed == none


def test_a_closed_panel_leaves_the_image_untouched(renderer):
    state, panel, _, _ = open_panel()
    view = view_of(state)
    blank, _ = render(renderer, None, view)
    closed, _ = render(renderer, PanelScene.empty(), view)
    shown, _ = render(renderer, panel, view)
    assert np.array_equal(blank, closed)
    assert np.abs(shown - blank).sum() > 0
    renderer.upload_panel(None)


@pytest.fixture(autouse=True)
def _no_panel_afterwards(renderer):
    yield
    renderer.upload_panel(None)          # the session's renderer is shared with other modules


def test_the_panel_lists_who_is_here_beside_the_buttons_with_constant_draw_calls(renderer):
    """The roster (status.roster_lines) is drawn as lines right of the buttons; the panel stays
    one draw call whatever the number of lines."""
    from xrdemo.core import menu as M
    from xrdemo.core.menu_panel import BUTTON_ACTIONS, PANEL_W, panel_scene

    n = len(BUTTON_ACTIONS)
    args = dict(pressed=np.zeros(n, bool), on=np.zeros(n, bool), hover=np.zeros(n, bool), leave_armed=False,
                volume=None, ray_start=np.zeros((2, 3)), ray_end=np.zeros((2, 3)),
                ray_visible=np.zeros(2, bool), ray_hit=np.zeros(2, bool))
    R = np.eye(3)
    plain = panel_scene(np.zeros(3), R, **args)
    listed = panel_scene(np.zeros(3), R, roster=("\u2713 Ada (you)", "? Bob \u2014 muted"), **args)
    assert len(listed.labels) == len(plain.labels) + 2 and listed.labels[-1] == "? Bob \u2014 muted"
    assert listed.actions[-2:] == (None, None)
    assert np.all(listed.transforms[-2:, 0, 3] > PANEL_W / 2)           # to the right of the panel
    # drawn: with the panel in front of the eyes, the list adds pixels but no draw call
    where = HEAD + np.array([0.0, 0.0, -0.45])
    R = P.quat_to_matrix(P.look_rotation(HEAD - where))
    plain = panel_scene(where, R, **args)
    listed = panel_scene(where, R, roster=tuple(f"? Person {i} — muted" for i in range(8)), **args)
    _, rot = P.look_at(HEAD, where + R @ np.array([0.12, 0.0, 0.0]))
    view = eye_views(HEAD, rot, SIZE)[0]
    img_plain, calls_plain = render(renderer, plain, view)
    img_listed, calls_listed = render(renderer, listed, view)
    assert calls_plain == calls_listed
    assert (np.abs(img_listed - img_plain).sum(axis=-1) > 30).sum() > 200

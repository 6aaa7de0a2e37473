"""The in-headset menu (core/menu.py) driven by scripted hands built with core.hands, and by
scripted controllers: open by palm and by menu button, poke each button, ray + trigger."""

import numpy as np
import pytest

from xrdemo.core import menu as M
from xrdemo.core import pose as P
from xrdemo.core.menu import MenuAction, MenuState, menu_step
from xrdemo.testing import menu_hands as MH

HZ = 72
FRAME_NS = round(1e9 / HZ)
HEAD = np.array([0.0, 1.20, 1.00])
HEAD_ROT = P.quat_from_yaw_pitch_roll(0.0, np.radians(-20.0))
PALM_AT = HEAD + np.array([-0.10, -0.28, -0.28])     # in front of the chest, a little left
FAR = np.array([0.40, 0.75, 0.60])                   # the right hand resting, away from the panel


def left_hand(palm_at=PALM_AT, head=HEAD, away_deg=0.0) -> np.ndarray:
    return MH.left_hand(palm_at, head, away_deg)


def right_hand(tip_at=FAR, toward=np.array([0.0, 0.0, -1.0])) -> np.ndarray:
    return MH.right_hand(tip_at, toward)


class Driver:
    """Steps the menu one 72 Hz frame at a time and keeps every output."""

    def __init__(self):
        self.state = MenuState()
        self.head = HEAD.copy()
        self.t = 10 * 10**9
        self.left = left_hand(away_deg=120.0)           # palm away from the face
        self.right = right_hand()
        self.valid = np.ones((2, 26), bool)
        self.aim_pos = np.zeros((2, 3))
        self.aim_rot = np.tile(P.IDENTITY_QUAT, (2, 1))
        self.aim_valid = np.zeros(2, bool)
        self.trigger = np.zeros(2)
        self.menu = np.zeros(2, bool)
        self.toggles = {}
        self.available = None
        self.actions, self.haptics = [], []
        self.opened = []                                # is_open after each frame
        self.panel = None

    def step(self, frames=1):
        for _ in range(frames):
            self.t += FRAME_NS
            joints = np.stack([self.left, self.right])
            self.state, actions, haptics, self.panel = menu_step(
                self.state, t_ns=self.t, head_pos=self.head, head_rot=HEAD_ROT, joints=joints,
                joints_valid=self.valid, aim_pos=self.aim_pos, aim_rot=self.aim_rot,
                aim_valid=self.aim_valid, trigger=self.trigger, menu_button=self.menu,
                toggles=self.toggles, volume=0.8, available=self.available)
            self.actions += actions
            self.haptics += haptics
            self.opened.append(self.state.is_open)
        return self

    def open_by_palm(self):
        self.left = left_hand()
        self.step(int(0.6 * HZ))
        assert self.state.is_open and self.state.opened_by == "palm"
        return self

    def poke(self, b: int, depth=0.012, frames=10):
        """Move the right index tip from 5 cm in front of button b to ``depth`` behind its face
        and back out, in straight lines."""
        c = M.button_centres_room(self.state)[b]
        n = M.panel_normal(self.state)
        for s in np.linspace(0.05, -depth, frames):
            self.right = right_hand(c + n * s, -n)
            self.step()
        for s in np.linspace(-depth, 0.05, frames):
            self.right = right_hand(c + n * s, -n)
            self.step()
        self.right = right_hand()
        self.step()


def test_palm_normal_of_a_scripted_hand_faces_the_eyes():
    for away in (0.0, 20.0, 50.0, 120.0):
        angle, dist = M.palm_facing_angle(left_hand(away_deg=away), HEAD)
        assert angle == pytest.approx(away, abs=0.5)
        assert dist == pytest.approx(np.linalg.norm(HEAD - PALM_AT))
    # a right hand with the same pose mirrored has the same geometric normal by its own rule
    right = left_hand() * np.array([-1, 1, 1])
    assert np.dot(M.palm_normal(right, left=False),
                  M.palm_normal(left_hand(), left=True) * np.array([-1, 1, 1])) > 0.999


def test_palm_toward_the_face_opens_after_a_dwell_beside_the_left_hand():
    d = Driver().step(10)
    assert not any(d.opened) and len(d.panel) == 0
    d.left = left_hand()
    d.step(int(M.OPEN_DWELL_S * HZ) - 2)
    assert not d.state.is_open                               # not before the dwell
    d.step(4)
    assert d.state.is_open and d.state.opened_by == "palm"
    assert len(d.panel) == 2 + M.BUTTON_COUNT
    # beside the palm, on the little-finger side (toward the wearer's right), facing the eyes
    off = d.state.panel_pos - PALM_AT
    assert 0.1 < np.linalg.norm(off) < 0.25 and off[0] > 0.08
    n = M.panel_normal(d.state)
    assert np.dot(n, P.normalize(HEAD - d.state.panel_pos)) > 0.999
    # and away again: closes after its own dwell
    d.left = left_hand(away_deg=90.0)
    d.step(int(M.CLOSE_DWELL_S * HZ) - 2)
    assert d.state.is_open
    d.step(4)
    assert not d.state.is_open and len(d.panel) == 0
    assert d.actions == []


def test_no_menu_when_the_palm_faces_away_or_the_hand_is_too_far():
    d = Driver()
    for away in (60.0, 90.0, 150.0, 180.0):
        d.left = left_hand(away_deg=away)
        d.step(HZ)
    d.left = left_hand(palm_at=HEAD + np.array([-0.1, -0.3, -1.0]))   # facing, but 1 m away
    d.step(HZ)
    d.left = left_hand()
    d.valid[0] = False                                                 # facing, but not tracked
    d.step(HZ)
    assert not any(d.opened)
    # pokes at where the buttons would be do nothing while it is closed
    d.valid[0] = True
    d.left = left_hand(away_deg=100.0)
    d.state = MenuState(panel_pos=PALM_AT + np.array([0.16, 0, 0]),
                        panel_R=M.facing_matrix(PALM_AT + np.array([0.16, 0, 0]), HEAD))
    for b in range(M.BUTTON_COUNT):
        d.poke(b)
    assert d.actions == [] and not any(d.opened)


def test_a_passing_glance_does_not_open_and_a_tracking_blip_does_not_close():
    d = Driver()
    for _ in range(5):                                  # the palm sweeps past the face: 0.1 s each
        d.left = left_hand()
        d.step(int(0.1 * HZ))
        d.left = left_hand(away_deg=90.0)
        d.step(int(0.1 * HZ))
    assert not any(d.opened)
    d.open_by_palm()
    for _ in range(5):                                  # single frames of a wrong palm angle
        d.left = left_hand(away_deg=120.0)
        d.step()
        d.left = left_hand()
        d.step(int(0.1 * HZ))
    assert d.state.is_open and all(d.opened[-int(0.55 * HZ):])


def test_no_flicker_at_the_edge_of_the_cone():
    rng = np.random.default_rng(7)
    d = Driver()
    # tracking noise of +-6 degrees around the opening edge, then around the closing edge
    for centre in (M.OPEN_CONE_DEG, M.CLOSE_CONE_DEG):
        for _ in range(4 * HZ):
            d.left = left_hand(away_deg=centre + rng.uniform(-6.0, 6.0))
            d.step()
    changes = np.count_nonzero(np.diff(np.asarray(d.opened, int)))
    assert changes <= 2, f"the panel flickered {changes} times"
    # a steady hand between the two cones keeps whatever state it has
    d = Driver().open_by_palm()
    d.left = left_hand(away_deg=45.0)
    d.step(3 * HZ)
    assert all(d.opened[-3 * HZ:])
    d = Driver()
    d.left = left_hand(away_deg=45.0)
    d.step(3 * HZ)
    assert not any(d.opened)


def test_the_panel_stays_while_the_poking_hand_hides_the_left_hand_briefly():
    d = Driver().open_by_palm()
    d.valid[0] = False
    d.step(int(0.8 * M.LOST_GRACE_S * HZ))
    assert d.state.is_open
    d.valid[0] = True
    d.step(2)
    d.valid[0] = False
    d.step(int(1.2 * M.LOST_GRACE_S * HZ))
    assert not d.state.is_open


def test_each_button_poked_gives_exactly_one_action():
    d = Driver().open_by_palm()
    for b, action in enumerate(M.BUTTON_ACTIONS):
        before = len(d.actions)
        d.poke(b)
        got = d.actions[before:]
        if action is MenuAction.LEAVE:
            assert got == []                                  # first press only asks to confirm
            d.poke(b)
            got = d.actions[before:]
        assert got == [action], f"button {b} gave {got}"
    assert d.haptics == []                                    # no controller, no haptics
    assert d.state.is_open


def test_a_press_shows_pressed_and_needs_a_release_before_the_next():
    d = Driver().open_by_palm()
    b = M.BUTTON_ACTIONS.index(MenuAction.MUTE)
    c = M.button_centres_room(d.state)[b]
    n = M.panel_normal(d.state)
    q = d.panel.button_index(MenuAction.MUTE)
    for s in np.linspace(0.05, 0.01, 5):                  # approach: hover, not pressed
        d.right = right_hand(c + n * s, -n)
        d.step()
    assert d.panel.hover[q] and not d.panel.pressed[q]
    colour_hover = d.panel.colors[q].copy()
    face_z = M.to_panel(d.state, d.panel.transforms[q, :3, 3])[2]
    for s in np.linspace(0.01, -0.015, 5):                # through the face: one press
        d.right = right_hand(c + n * s, -n)
        d.step()
    assert d.actions == [MenuAction.MUTE]
    assert d.panel.pressed[q] and not np.allclose(d.panel.colors[q], colour_hover)
    assert M.to_panel(d.state, d.panel.transforms[q, :3, 3])[2] < face_z - 0.002   # sunk in
    # wiggle behind the face and slide across to the next button: no more actions
    for s in (-0.005, -0.02, -0.004, -0.018):
        d.right = right_hand(c + n * s, -n)
        d.step()
    nxt = M.button_centres_room(d.state)[b + 1]
    for f in np.linspace(0, 1, 8):
        d.right = right_hand(c + (nxt - c) * f - n * 0.01, -n)
        d.step()
    assert d.actions == [MenuAction.MUTE]
    # only backing out in front of the panel re-arms
    d.right = right_hand(nxt + n * 0.03, -n)
    d.step()
    d.right = right_hand(nxt - n * 0.01, -n)
    d.step()
    assert d.actions == [MenuAction.MUTE, M.BUTTON_ACTIONS[b + 1]]
    # the pressed look lasts a moment, then returns to normal
    d.right = right_hand()
    d.step(int(M.PRESSED_SHOW_S * HZ) + 3)
    assert not d.panel.pressed.any()


def test_tracking_jitter_at_the_surface_presses_once():
    rng = np.random.default_rng(3)
    d = Driver().open_by_palm()
    b = M.BUTTON_ACTIONS.index(MenuAction.RAISE_HAND)
    c = M.button_centres_room(d.state)[b]
    n = M.panel_normal(d.state)
    for s in np.linspace(0.04, 0.006, 6):
        d.right = right_hand(c + n * s, -n)
        d.step()
    for _ in range(HZ):                             # resting on the face, +-4 mm of jitter
        d.right = right_hand(c + n * (M.PRESS_Z + rng.uniform(-0.004, 0.004)), -n)
        d.step()
    assert d.actions == [MenuAction.RAISE_HAND]


def test_a_finger_entering_from_behind_does_not_press():
    d = Driver().open_by_palm()
    c = M.button_centres_room(d.state)[0]
    n = M.panel_normal(d.state)
    for s in np.linspace(-0.05, 0.04, 12):
        d.right = right_hand(c + n * s, n)
        d.step()
    assert d.actions == []


def test_toggle_buttons_show_on_and_off():
    d = Driver().open_by_palm()
    for action in M.TOGGLES:
        q = d.panel.button_index(action)
        assert not d.panel.on[q]
        off_label, off_colour = d.panel.labels[q], d.panel.colors[q].copy()
        d.toggles = {action: True}
        d.step()
        assert d.panel.on[q] and d.panel.labels[q] != off_label
        assert not np.allclose(d.panel.colors[q], off_colour)
        assert d.panel.on.sum() == 1
        d.toggles = {}
    d.toggles = {MenuAction.RECENTER: True}                   # not a toggle: never shows on
    d.step()
    assert not d.panel.on.any()
    assert "80%" in d.panel.labels[1]


def test_leave_needs_a_second_press_within_the_confirm_time():
    d = Driver().open_by_palm()
    b = M.BUTTON_ACTIONS.index(MenuAction.LEAVE)
    q = d.panel.button_index(MenuAction.LEAVE)
    d.poke(b)
    assert d.panel.labels[q] == M.LEAVE_CONFIRM_LABEL
    d.step(int((M.LEAVE_CONFIRM_S + 0.2) * HZ))
    assert d.panel.labels[q] == "Leave"
    d.poke(b)
    assert d.actions == []
    d.poke(b)
    assert d.actions == [MenuAction.LEAVE]


def test_panel_quads_are_room_space_and_sized():
    d = Driver().open_by_palm()
    p = d.panel
    assert p.transforms.dtype == np.float32 and p.transforms.shape == (2 + M.BUTTON_COUNT, 4, 4)
    assert p.colors.shape == (len(p), 4) and len(p.labels) == len(p)
    widths = np.linalg.norm(p.transforms[:, :3, 0], axis=1)
    heights = np.linalg.norm(p.transforms[:, :3, 1], axis=1)
    assert widths[0] == pytest.approx(M.PANEL_W, rel=1e-5) and heights[0] == pytest.approx(M.PANEL_H, rel=1e-5)
    assert np.allclose(widths[2:], M.BUTTON_W) and np.allclose(heights[2:], M.BUTTON_H)
    centres = M.button_centres_room(d.state)
    np.testing.assert_allclose(p.transforms[2:, :3, 3], centres, atol=1e-6)
    assert p.actions[2:] == M.BUTTON_ACTIONS and p.actions[:2] == (None, None)


# -- controllers -------------------------------------------------------------------------------
def aim_at(d: Driver, b: int, hand=1, origin=None):
    c = M.button_centres_room(d.state)[b]
    origin = HEAD + np.array([0.25, -0.35, -0.15]) if origin is None else origin
    d.aim_pos[hand] = origin
    d.aim_rot[hand] = P.look_rotation(c - origin)
    d.aim_valid[hand] = True


def test_menu_button_opens_in_front_and_ray_plus_trigger_presses_with_a_haptic_tick():
    d = Driver()
    d.menu[0] = True
    d.step()
    assert d.state.is_open and d.state.opened_by == "button"
    d.menu[0] = False
    d.step()
    # in front of the eyes, lower, facing them
    off = d.state.panel_pos - HEAD
    assert off[2] < -0.3 and off[1] < -0.1
    for b, action in enumerate(M.BUTTON_ACTIONS):
        aim_at(d, b)
        d.step()
        q = 2 + b
        assert d.panel.ray_visible[1] and d.panel.ray_hit[1] and d.panel.hover[q]
        np.testing.assert_allclose(d.panel.ray_end[1], M.button_centres_room(d.state)[b], atol=0.006)
        before = len(d.actions), len(d.haptics)
        for v in (0.2, 0.5, 0.8, 1.0, 0.6, 0.85, 0.5, 0.9, 0.2, 0.0):  # one pull, with a wobble
            d.trigger[1] = v
            d.step()
        presses = 2 if action is MenuAction.LEAVE else 1
        if presses == 2:
            for v in (1.0, 0.0):
                d.trigger[1] = v
                d.step()
        assert d.actions[before[0]:] == [action]
        assert d.haptics[before[1]:] == [1] * presses
    # a pull while pointing away does nothing
    d.aim_rot[1] = P.look_rotation(np.array([1.0, 0.0, 0.0]))
    d.step()
    assert not d.panel.ray_hit[1] and d.panel.ray_visible[1]
    assert np.linalg.norm(d.panel.ray_end[1] - d.panel.ray_start[1]) == pytest.approx(M.RAY_LENGTH_M)
    n = len(d.actions)
    d.trigger[1] = 1.0
    d.step(3)
    d.trigger[1] = 0.0
    d.step()
    assert len(d.actions) == n
    # the menu button closes it again; a held button toggles once
    d.menu[0] = True
    d.step(5)
    assert not d.state.is_open
    d.menu[0] = False
    d.step()
    assert not d.state.is_open


def test_trigger_held_while_opening_does_not_press_and_left_controller_also_points():
    d = Driver()
    d.trigger[1] = 1.0
    d.menu[0] = True
    d.step()
    d.menu[0] = False
    aim_at(d, 0)
    d.step(5)
    assert d.actions == []
    d.aim_valid[1] = False
    aim_at(d, 1, hand=0, origin=HEAD + np.array([-0.25, -0.35, -0.15]))
    d.trigger[0] = 1.0
    d.step()
    assert d.actions == [M.BUTTON_ACTIONS[1]] and d.haptics == [0]
    assert not d.panel.ray_visible[1]


def test_menu_button_closing_while_the_palm_faces_does_not_reopen_until_it_turns_away():
    d = Driver().open_by_palm()
    d.menu[0] = True
    d.step()
    d.menu[0] = False
    d.step(2 * HZ)
    assert not d.state.is_open
    d.left = left_hand(away_deg=90.0)
    d.step(5)
    d.left = left_hand()
    d.step(HZ)
    assert d.state.is_open and d.state.opened_by == "palm"


def test_a_button_opened_panel_follows_when_the_wearer_is_moved():
    d = Driver()
    d.menu[0] = True
    d.step()
    d.menu[0] = False
    first = d.state.panel_pos.copy()
    d.head = HEAD + np.array([1.5, 0.0, 0.0])                 # reseated one chair over
    d.step()
    np.testing.assert_allclose(d.state.panel_pos, first + [1.5, 0, 0], atol=1e-9)


def test_bad_input_is_named_and_a_lost_head_freezes_the_panel():
    d = Driver().open_by_palm()
    kw = dict(t_ns=d.t + FRAME_NS, head_pos=HEAD, head_rot=HEAD_ROT, joints=np.zeros((2, 26, 3)),
              joints_valid=np.zeros((2, 26), bool), aim_pos=np.zeros((2, 3)),
              aim_rot=np.tile(P.IDENTITY_QUAT, (2, 1)), aim_valid=np.zeros(2, bool), trigger=np.zeros(2),
              menu_button=np.zeros(2, bool))
    with pytest.raises(ValueError, match=r"joints must have shape \(2, 26, 3\), not \(26, 3\)"):
        menu_step(d.state, **{**kw, "joints": np.zeros((26, 3))})
    with pytest.raises(ValueError, match="trigger"):
        menu_step(d.state, **{**kw, "trigger": 0.5})
    pos = d.state.panel_pos.copy()
    d.head = np.full(3, np.nan)
    d.step(HZ)                                         # an invalid head pose for a second
    assert d.state.is_open and np.array_equal(d.state.panel_pos, pos)
    assert np.all(np.isfinite(d.panel.transforms))


def test_buttons_for_actions_the_app_cannot_do_are_dimmed_and_press_nothing():
    can = {MenuAction.MUTE, MenuAction.PASSTHROUGH, MenuAction.RECENTER, MenuAction.LEAVE}
    d = Driver().open_by_palm()
    d.available = can
    for b, action in enumerate(M.BUTTON_ACTIONS):
        d.poke(b)
        assert d.panel.enabled[2 + b] == (action in can)
    assert d.actions == [MenuAction.MUTE, MenuAction.PASSTHROUGH, MenuAction.RECENTER]
    dim = d.panel.colors[2 + M.BUTTON_ACTIONS.index(MenuAction.WHISPER)]
    lit = d.panel.colors[2 + M.BUTTON_ACTIONS.index(MenuAction.RECENTER)]
    assert dim[:3].sum() < lit[:3].sum()
    # a controller pull on a dimmed button: no hover, no action, no tick
    aim_at(d, M.BUTTON_ACTIONS.index(MenuAction.VOLUME_UP))
    d.step()
    assert d.panel.ray_hit[1] and not d.panel.hover.any()
    d.trigger[1] = 1.0
    d.step()
    assert d.haptics == [] and MenuAction.VOLUME_UP not in d.actions

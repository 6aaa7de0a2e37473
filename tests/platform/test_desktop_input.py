"""The desktop simulator's body (keys and mouse -> head and hands) and its text panels, without a window."""

import numpy as np
import pytest

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.platform.desktop_input import (
    GESTURES, KEYMAP, REACH_LIMITS, SEAT_REACH, DesktopControls, InputEvent, parse_input_script, seat_of,
)
from xrdemo.render.overlay import render_text_panel

DT = 1 / 60


def settle(c, frames=40):
    for _ in range(frames):
        c.advance(DT)


def tap(c, key):
    c.key(key, True)
    c.key(key, False)


def meeting_controls(n=6):
    state = S.make_meeting(n, local=0, seed=1)
    return DesktopControls(seat_of(state)), state


def test_seat_of_a_meeting():
    c, state = meeting_controls(6)
    np.testing.assert_allclose(c.seat.position, state.seat_pos[0])
    assert c.seat.neighbours.shape == (5, 3)
    pos, q = c.head_pose()
    np.testing.assert_allclose(pos, state.seat_pos[0])
    assert abs(P.yaw_of(q) - state.seat_yaw[0]) < 1e-9
    with pytest.raises(ValueError, match="no local person"):
        seat_of(S.make_meeting(3, local=-1))


@pytest.mark.parametrize("key,gesture", [(str(i + 1), g) for i, g in enumerate(GESTURES)])
def test_every_gesture_gives_valid_hands_with_true_bone_lengths(key, gesture):
    c, state = meeting_controls()
    tap(c, key)
    settle(c)
    assert c.gestures == [gesture, gesture]
    pos, rot, radii = c.hands()
    assert pos.shape == (2, 26, 3) and rot.shape == (2, 26, 4) and radii.shape == (2, 26)
    np.testing.assert_allclose(np.linalg.norm(rot, axis=-1), 1.0, atol=1e-9)
    bones = np.linalg.norm(pos[:, H.BONES[:, 1]] - pos[:, H.BONES[:, 0]], axis=-1)
    # joints are placed in float32 (core/hands.py): bone lengths hold to a tenth of a micrometre
    np.testing.assert_allclose(bones, np.broadcast_to(H.BONE_LENGTHS, bones.shape), atol=1e-7)
    assert (pos[..., 1] - radii).min() >= state.table.height - 1e-9     # never through the table
    # hands stay in front of the seat, left on the left
    seat = state.seat_pos[0]
    assert np.all(pos[..., 2] < seat[2]) and pos[0, 1, 0] < pos[1, 1, 0]
    if gesture == "rest":
        assert (pos[..., 1] - radii).min() < state.table.height + 0.01   # actually on the table


def test_shift_and_ctrl_choose_one_hand():
    c = DesktopControls()
    c.key("left_shift", True)
    tap(c, "4")
    c.key("left_shift", False)
    assert c.gestures == ["wave", "rest"]
    c.key("left_control", True)
    tap(c, "5")
    assert c.gestures == ["wave", "thumbs_up"]


def test_wave_moves_the_hand_and_joint_orientations_follow_the_bones():
    c = DesktopControls()
    tap(c, "4")
    settle(c, 30)
    a = c.hands()[0][1, 10].copy()
    settle(c, 8)
    assert np.linalg.norm(c.hands()[0][1, 10] - a) > 0.02
    pos, rot, _ = c.hands()
    for hand in (0, 1):   # index proximal's -Z points along the bone to the intermediate joint
        bone = P.normalize(pos[hand, 8] - pos[hand, 7])
        assert np.dot(P.quat_rotate(rot[hand, 7], np.array([0, 0, -1.0])), bone) > 0.95


def test_held_keys_move_the_head_but_not_beyond_the_seat_reach():
    c = DesktopControls()
    seat = c.seat.position.copy()
    c.key("w", True)
    c.advance(0.1)
    assert c.head_pose()[0][2] == pytest.approx(seat[2] - 0.05)       # forward is -Z for seat yaw 0
    settle(c, 200)
    c.key("w", False)
    c.key("a", True)
    settle(c, 200)
    assert np.linalg.norm(c.head_pose()[0] - seat) == pytest.approx(SEAT_REACH)
    tap(c, "r")
    np.testing.assert_allclose(c.head_pose()[0], seat)


def test_mouse_reach_is_clamped_and_wheel_moves_in_depth():
    c = DesktopControls()
    c.cursor(0, 0)
    c.mouse_button("left", True)
    c.cursor(10_000, -10_000)
    assert c.reach[1, 0] == REACH_LIMITS[0, 1] and c.reach[1, 1] == REACH_LIMITS[1, 1]
    c.mouse_button("left", False)
    c.scroll(2)
    assert c.reach[1, 2] == pytest.approx(-0.06)
    assert not c.reach[0].any()


def test_captured_cursor_looks_without_a_button():
    c = DesktopControls()
    c.cursor(0, 0)
    c.cursor(50, 0)
    assert c.yaw == 0.0
    c.captured = True
    c.cursor(100, 0)
    assert c.yaw < 0                                                   # moved right: turned right
    c.cursor(100, 1e6)
    assert c.pitch == pytest.approx(-np.radians(80))


def test_lean_in_goes_to_the_neighbour_you_face():
    c, state = meeting_controls(6)
    others = state.seat_pos[1:]
    for look_px, expect_x_sign in ((-300, -1), (300, 1)):               # look left, then right
        tap(c, "r")
        c.forget_cursor()
        c.captured = True
        c.cursor(0, 0)
        c.cursor(look_px, 0)
        c.captured = False
        c.key("space", True)
        settle(c, 30)
        head = c.head_pose()[0]
        assert np.linalg.norm(others - head, axis=1).min() < 0.45
        assert np.sign(head[0] - state.seat_pos[0][0]) == expect_x_sign
        c.key("space", False)
        settle(c, 30)
        assert c.lean_in == 0.0


def test_input_script_parsing():
    ev = parse_input_script('[{"frame": 3, "key": "D"}, {"frame": 1, "cursor": [5, 6]},'
                            ' {"frame": 2, "button": "left", "action": "press"}, {"frame": 4, "scroll": -1}]')
    assert ev == [InputEvent(1, "cursor", x=5.0, y=6.0), InputEvent(2, "button", "left", "press"),
                  InputEvent(3, "key", "d", "tap"), InputEvent(4, "scroll", y=-1.0)]
    for bad, why in (([{"frame": 1}], "needs one of"), ([{"key": "a"}], "frame"),
                     ([{"frame": 1, "key": "a", "action": "hold"}], "press, release or tap"),
                     ([{"frame": 1, "button": "side"}], "left, right or middle"),
                     ([{"frame": -1, "key": "a"}], ">= 0")):
        with pytest.raises(ValueError, match=why):
            parse_input_script(bad)


def test_keymap_covers_the_documented_keys():
    keys = {k for keys, _, _ in KEYMAP for k in keys}
    assert {"w", "a", "s", "d", "q", "e", "space", "1", "6", "h", "v", "escape", "r", "c"} <= keys


def test_text_panel_draws_light_text_on_a_dark_translucent_panel():
    img = render_text_panel(["title", "a\tb", "longer cell\tc"], font_px=14, title=True)
    h, w, _ = img.shape
    assert img.dtype == np.uint8 and 40 < h < 100 and w > 60
    assert img[..., 3].min() >= 200                                  # translucent panel everywhere
    bright = img[..., :3].min(-1) > 180
    assert 0.01 < bright.mean() < 0.5
    # columns line up: "b" and "c" start at the same x in rows 2 and 3
    line_h = h // 3
    cols = [np.nonzero(bright[r * line_h:(r + 1) * line_h].any(0))[0] for r in (1, 2)]
    assert cols[0].max() == pytest.approx(cols[1].max(), abs=3)
    assert render_text_panel([]).shape == (1, 1, 4)


def test_menu_keys_ask_for_every_menu_action_once_per_press():
    from xrdemo.core.menu import MenuAction
    from xrdemo.platform.desktop_input import ACTION_KEYS

    assert set(ACTION_KEYS.values()) == set(MenuAction)          # every menu action has a key
    keys = [k for keys, _, _ in KEYMAP for k in keys]
    assert len(keys) == len(set(keys)), "a key is bound twice in KEYMAP"
    c = DesktopControls()
    for key, action in ACTION_KEYS.items():
        tap(c, key)
        tap(c, key)
        assert c.take_actions() == [action, action]
        assert c.take_actions() == []
    # ordinary keys ask for nothing; R still resets the body as well as asking to recenter
    c.key("w", True)
    settle(c, 10)
    c.key("w", False)
    tap(c, "2")
    assert c.take_actions() == []
    tap(c, "r")
    assert c.take_actions() == [MenuAction.RECENTER]
    np.testing.assert_allclose(c.head_pose()[0], c.seat.position)


@pytest.mark.parametrize("key", list("123456"))
def test_no_desktop_gesture_opens_the_in_headset_menu_by_accident(key):
    from xrdemo.core import menu as M
    from xrdemo.core.menu import MenuState, menu_step

    c, _ = meeting_controls()
    tap(c, key)
    state = MenuState()
    q = np.tile([0.0, 0.0, 0.0, 1.0], (2, 1))
    for i in range(90):
        c.advance(DT)
        head, head_rot = c.head_pose()
        joints, _, _ = c.hands()
        angle, _ = M.palm_facing_angle(joints[0], head)
        assert angle > M.CLOSE_CONE_DEG
        state, actions, _, _ = menu_step(
            state, t_ns=(i + 1) * 16_666_667, head_pos=head, head_rot=head_rot, joints=joints,
            joints_valid=np.ones((2, 26), bool), aim_pos=np.zeros((2, 3)), aim_rot=q,
            aim_valid=np.zeros(2, bool), trigger=np.zeros(2), menu_button=np.zeros(2, bool))
        assert not state.is_open and actions == []

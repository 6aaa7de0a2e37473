"""The in-headset menu driven through the simulated runtime: a Timeline scripts the wearer's hands
(left palm to the face, right index poking each button) or controllers (menu button, ray, trigger);
each FrameInput goes through menu_inputs into menu_step, as the frame loop does; haptic ticks go
back to the platform."""

import numpy as np

from xrdemo.core import menu as M
from xrdemo.core import pose as P
from xrdemo.core.menu import MenuAction, MenuState, menu_step
from xrdemo.platform.base import SessionState
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.timeline import NS, ControllerSample, Timeline
from xrdemo.loop.menu import menu_inputs
from xrdemo.testing.menu_hands import left_hand, right_hand

HEAD = np.array([0.3, 1.15, 1.1])
HEAD_ROT = P.quat_from_yaw_pitch_roll(0.2, np.radians(-15.0))
PALM = HEAD + np.array([-0.12, -0.27, -0.26])
REST = HEAD + np.array([0.25, -0.45, -0.25])
OPEN_AT_S, POKE_EVERY_S = 0.5, 0.6


def head(_t):
    return HEAD.copy(), HEAD_ROT.copy()


def expected_panel() -> MenuState:
    """Where the panel settles beside the still left hand (the menu's own placement rule)."""
    left = left_hand(PALM, HEAD)
    pos = M.hand_anchor(left, HEAD)
    return MenuState(panel_pos=pos, panel_R=M.facing_matrix(pos, HEAD))


def scripted_hands(t_ns):
    """Palm away, then toward the face from OPEN_AT_S; from 1.5 s the right index pokes button
    k = (t - 1.5) // POKE_EVERY_S: 5 cm in front, 1.2 cm through, back out, then rests."""
    t = t_ns / NS - 1.0
    left = left_hand(PALM, HEAD, 0.0 if t >= OPEN_AT_S else 120.0)
    right = right_hand(REST)
    k, phase = divmod(t - 1.5, POKE_EVERY_S)
    if 0 <= k < M.BUTTON_COUNT and phase < 0.4:
        panel = expected_panel()
        c = M.button_centres_room(panel)[int(k)]
        n = M.panel_normal(panel)
        depth = 0.05 - 0.062 * np.sin(np.pi * phase / 0.4)       # 0.05 -> -0.012 -> 0.05 m
        right = right_hand(c + n * depth, -n)
    pos = np.stack([left, right])
    rot = np.zeros((2, 26, 4))
    rot[..., 3] = 1.0
    return pos, rot, np.full((2, 26), 0.01)


def run(platform, seconds, toggles_from_actions=True):
    state, actions, opened = MenuState(), [], []
    toggles = {}
    frames = int(seconds * platform.timeline.refresh_hz)
    for _ in range(frames):
        frame = platform.begin_frame()
        try:
            state, acts, haptics, panel = menu_step(state, toggles=toggles, **menu_inputs(frame))
            for hand in haptics:
                assert platform.haptic_pulse(hand, 0.3, 0.02)
            for a in acts:
                actions.append((frame.predicted_display_time_ns, a))
                if toggles_from_actions and a in M.TOGGLES:     # the app's part: flip its state
                    toggles[a] = not toggles.get(a, False)
            opened.append(state.is_open)
        finally:
            platform.end_frame(frame, None)
    return actions, opened, toggles, panel


def test_hands_open_the_menu_and_poke_every_button_once():
    platform = SimulatedPlatform(Timeline(head=head, hands=scripted_hands, controllers=None))
    actions, opened, toggles, panel = run(platform, 1.0 + 1.5 + M.BUTTON_COUNT * POKE_EVERY_S)
    hz = platform.timeline.refresh_hz
    first_open = opened.index(True) / hz                    # frame 0 is the script's t = 0
    assert abs(first_open - (OPEN_AT_S + M.OPEN_DWELL_S)) <= 1.5 / hz
    assert all(opened[opened.index(True):])
    got = [a for _, a in actions]
    # every button once in order; Leave's first poke only asks to confirm
    assert got == [a for a in M.BUTTON_ACTIONS if a is not MenuAction.LEAVE]
    assert toggles == {a: True for a in M.TOGGLES}
    assert panel.on.sum() == len(M.TOGGLES)                  # the panel shows them on
    assert platform.haptic_log == []


def scripted_controllers(t_ns):
    """Menu button at 0.2 s; then the right controller aims at button k = (t - 0.5) // 0.4 and
    pulls its trigger in each window's middle."""
    t = t_ns / NS - 1.0
    grip = np.stack([HEAD + [-0.2, -0.4, -0.3], HEAD + [0.2, -0.4, -0.3]])
    q = np.tile(P.IDENTITY_QUAT, (2, 1))
    aim_q = q.copy()
    trigger = np.zeros(2)
    k, phase = divmod(t - 0.5, 0.4)
    if 0 <= k < M.BUTTON_COUNT:
        pos = M.head_anchor(HEAD, HEAD_ROT)
        panel = MenuState(panel_pos=pos, panel_R=M.facing_matrix(pos, HEAD))
        aim_q[1] = P.look_rotation(M.button_centres_room(panel)[int(k)] - grip[1])
        trigger[1] = 1.0 if 0.1 < phase < 0.25 else 0.0
    return ControllerSample(grip, q, grip, aim_q, trigger, np.zeros(2), np.zeros((2, 2)),
                            np.zeros(2, bool), {"menu": np.array([0.2 <= t < 0.25, False])})


def test_controllers_open_with_the_menu_button_and_press_with_ray_and_trigger():
    platform = SimulatedPlatform(Timeline(head=head, hands=None, controllers=scripted_controllers))
    actions, opened, _, _ = run(platform, 1.0 + 0.5 + M.BUTTON_COUNT * 0.4 + 0.3)
    got = [a for _, a in actions]
    assert got == [a for a in M.BUTTON_ACTIONS if a is not MenuAction.LEAVE]
    # one tick on the right controller per pull that hit a button (Leave's confirm too)
    assert [h for _, h, _, _ in platform.haptic_log] == [1] * M.BUTTON_COUNT
    assert platform.session_state == SessionState.FOCUSED

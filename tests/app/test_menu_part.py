"""The menu part in the one frame loop: a scripted wearer (simulated runtime, real GL on Mesa)
turns the left palm up, pokes every button where the panel really is, and the loop does what each
available action does; dimmed buttons do nothing; desktop-key ACTION events go the same way; the
panel adds one draw call while it is open; Leave (confirmed) ends the loop."""

import numpy as np

from tests.conftest import quiet_config
from xrdemo.core import menu as M
from xrdemo.core import pose as P
from xrdemo.core.menu import MenuAction
from xrdemo.loop.frame_loop import FramePart
from xrdemo.platform.base import EventKind, PlatformEvent
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.timeline import NS, Timeline
from xrdemo.testing.menu_hands import left_hand, right_hand

POKE_S = 0.5


class Spy(FramePart):
    def __init__(self, menu):
        self.menu, self.rows = menu, []

    def on_meeting(self, loop, state):
        self.loop = loop

    def after_frame(self, tick):
        self.rows.append((tick.index, self.menu.state.is_open, self.loop.renderer.stats["draw_calls_per_view"]))


class KeyPress(FramePart):
    """Stands in for the desktop window: ACTION events at given ticks."""

    def __init__(self, at):
        self.at = at

    def on_frame(self, tick):
        if tick.index in self.at:
            tick.frame.events.append(PlatformEvent(EventKind.ACTION, {"action": self.at[tick.index]}))


def test_the_menu_part_runs_the_meeting_from_the_wearers_hands(gl):
    from xrdemo.loop.drivers import CoreDriver
    from xrdemo.loop.frame_loop import FrameLoop
    from xrdemo.loop.menu import Menu
    from xrdemo.loop.seating import Seating
    from xrdemo.meetings import meeting_state
    from xrdemo.render.renderer import Framebuffer

    state = meeting_state(quiet_config(4))
    k = state.local
    eye = np.asarray(state.seat_pos[k], float)
    body = P.quat_from_yaw_pitch_roll(float(state.seat_yaw[k]))
    palm = eye + P.quat_rotate(body, np.array([-0.12, -0.26, -0.28]))
    rest = eye + P.quat_rotate(body, np.array([0.25, -0.45, -0.25]))
    order = list(range(M.BUTTON_COUNT)) + [M.BUTTON_COUNT - 1]      # Leave twice: it confirms
    seen = {}

    def hands(t_ns):
        right = right_hand(rest)
        st = menu.state
        if st.is_open:
            seen.setdefault("open", t_ns)
            i, phase = divmod((t_ns - seen["open"]) / NS - 0.3, POKE_S)
            if 0 <= i < len(order) and phase < 0.35:
                c, n = M.button_centres_room(st)[order[int(i)]], M.panel_normal(st)
                depth = 0.05 - 0.062 * np.sin(np.pi * phase / 0.35)
                right = right_hand(c + n * depth, -n)
        pos = np.stack([left_hand(palm, eye), right])
        rot = np.zeros((2, 26, 4))
        rot[..., 3] = 1.0
        return pos, rot, np.full((2, 26), 0.01)

    target = Framebuffer((96, 54), samples=1)
    platform = SimulatedPlatform(Timeline(head=lambda t: (eye.copy(), body.copy()), hands=hands),
                                 view_count=1, view_size=(96, 54),
                                 framebuffer_for=lambda i, size: target.draw_fbo)
    muted = {"on": False}
    calls = []
    seating = Seating(platform, log=lambda s: None)

    def leave(tick):
        tick.stop = "left the meeting"

    actions = {MenuAction.MUTE: lambda tick: muted.update(on=not muted["on"]),
               MenuAction.RECENTER: lambda tick: (calls.append("recenter"), seating.recenter()),
               MenuAction.PASSTHROUGH: lambda tick: calls.append("passthrough"),
               MenuAction.LEAVE: leave}
    logged = []
    menu = Menu(platform, actions, toggles=lambda: {MenuAction.MUTE: muted["on"]}, volume=lambda: 0.5,
                log=logged.append)
    spy = Spy(menu)
    keys = KeyPress({3: "MUTE", 4: "RAISE_HAND", 5: "RAISE_HAND"})
    result = FrameLoop(platform, CoreDriver(state), [seating, keys, menu, spy]).run(max_frames=72 * 12)
    platform.shutdown()

    assert result.reason == "left the meeting"
    done = [(a, src) for _, a, src in menu.done]
    assert done == [(MenuAction.MUTE, "key"), (MenuAction.MUTE, "button"), (MenuAction.PASSTHROUGH, "button"),
                    (MenuAction.RECENTER, "button"), (MenuAction.LEAVE, "button")]
    assert calls == ["passthrough", "recenter"] and muted["on"] is False      # key on, button off
    assert logged == ["xrdemo: raise hand is not available here yet"]         # said once
    # the panel is one more draw call while it is open
    closed = {n for _, is_open, n in spy.rows if not is_open}
    opened = {n for _, is_open, n in spy.rows if is_open}
    assert len(closed) == 1 and opened == {closed.pop() + 1}
    assert not menu.panel.enabled[2 + M.BUTTON_ACTIONS.index(MenuAction.VOLUME_UP)]

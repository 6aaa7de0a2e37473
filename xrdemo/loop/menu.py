"""The in-headset menu as a frame-loop part: core/menu.py's behaviour, render/panel.py's drawing.

``Menu(platform, actions={MenuAction.PASSTHROUGH: lambda tick: passthrough.toggle(), ...},
toggles=lambda: {MenuAction.PASSTHROUGH: passthrough.on}, volume=lambda: None)``. Every tick, after
every part's on_frame (so ``tick.room`` is in the room): ``menu_step`` on the room frame, a haptic
tick on the controller that pressed, the panel handed to the renderer, and every action asked for —
by a button, or by a desktop key (an EventKind.ACTION event) — handed to its function. Buttons for
actions with no function are dimmed and press nothing; a key for one says once that it is not
available.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.menu import MenuAction, MenuState, PanelScene, menu_step
from ..platform.base import EventKind
from .frame_loop import FramePart

HAPTIC_AMPLITUDE, HAPTIC_SECONDS = 0.3, 0.02


def menu_inputs(frame) -> dict:
    """menu_step's keyword arguments (all but state, toggles, volume, available) from a
    FrameInput whose poses are in the room (``tick.room``). Controller aim poses, triggers and
    menu buttons count only while that controller is active."""
    c = frame.controllers
    active = np.asarray(c.active, bool)
    return dict(
        t_ns=frame.predicted_display_time_ns,
        head_pos=np.asarray(frame.head.position, float) if frame.head.valid else np.full(3, np.nan),
        head_rot=np.asarray(frame.head.orientation, float),
        joints=np.asarray(frame.hands.positions, float), joints_valid=np.asarray(frame.hands.valid, bool),
        aim_pos=np.asarray(c.aim_position, float), aim_rot=np.asarray(c.aim_orientation, float),
        aim_valid=np.asarray(c.aim_valid, bool) & active,
        trigger=np.where(active, np.asarray(c.trigger, float), 0.0),
        menu_button=np.asarray(c.menu, bool) & active,
    )


class Menu(FramePart):
    """The menu part. actions: {MenuAction: fn(tick)} what each action does here; toggles: () ->
    {MenuAction: bool} the on/off states the panel shows; volume: () -> float or None, shown in
    the panel's title. ``state`` is the menu's state, ``panel`` the last PanelScene, ``done`` every
    action applied as (t_ns, MenuAction, "button" or "key")."""

    def __init__(self, platform, actions: dict[MenuAction, Callable], *,
                 toggles: Callable[[], dict] = dict, volume: Callable[[], float | None] = lambda: None,
                 log=print, roster: Callable[[], list] = list):
        self.platform, self.actions, self.log = platform, dict(actions), log
        self.toggles, self.volume, self.roster = toggles, volume, roster
        self.state = MenuState()
        self.panel = PanelScene.empty()
        self.done: list[tuple[int, MenuAction, str]] = []
        self.loop = None
        self._said: set[MenuAction] = set()

    def on_meeting(self, loop, state) -> None:
        self.loop = loop

    def on_inputs(self, tick) -> None:
        room = tick.room
        self.state, pressed, haptics, self.panel = menu_step(
            self.state, toggles=self.toggles(), volume=self.volume(), available=self.actions.keys(),
            roster=tuple(self.roster()),
            **menu_inputs(room))
        for hand in haptics:
            self.platform.haptic_pulse(hand, amplitude=HAPTIC_AMPLITUDE, duration_s=HAPTIC_SECONDS)
        keys = []
        for event in tick.frame.events:
            if event.kind == EventKind.ACTION:
                try:
                    keys.append(MenuAction[event.detail.get("action", "")])
                except KeyError:
                    self.log(f"xrdemo: unknown menu action {event.detail.get('action')!r}; ignored")
        for action, source in [(a, "key") for a in keys] + [(a, "button") for a in pressed]:
            do = self.actions.get(action)
            if do is None:
                if action not in self._said:
                    self._said.add(action)
                    self.log(f"xrdemo: {action.value.replace('_', ' ')} is not available here yet")
                continue
            do(tick)
            self.done.append((tick.t_ns, action, source))
        if self.loop is not None:
            self.loop._renderer().upload_panel(self.panel if room.should_render else None)

"""The in-headset menu: a small panel of meeting controls beside the left hand.

Open it by turning the left palm toward your face (held for a moment), or with a controller's menu
button. Press a button by poking it with the right index fingertip, or by pointing a controller at
it and pulling the trigger. ``menu_step`` is the whole logic, pure: arrays in, a new ``MenuState``,
the actions asked for, the controller hands to tick and a ``PanelScene`` (numpy, nothing GL) out.
Time is an argument (``t_ns``). The menu decides nothing about the meeting: the app applies each
returned MenuAction, and passes the resulting on/off states back in as ``toggles``.

Frames: every position is in one space, the room's (metres, +Y up); quaternions are x, y, z, w.
The panel frame (T_room_panel) has its origin at the panel's centre, +X to the wearer's right,
+Y up, +Z out of the face of the panel toward the wearer's eyes.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np

from . import pose as P
from .menu_panel import (  # noqa: F401 - re-exported: the menu's API in one place
    BUTTON_ACTIONS, BUTTON_CENTRES, BUTTON_COUNT, BUTTON_H, BUTTON_RAISE, BUTTON_W, BUTTONS, LABELS,
    LEAVE_CONFIRM_LABEL, PANEL_H, PANEL_W, RAY_COLOR, RAY_WIDTH_M, TOGGLES, MenuAction, PanelScene,
    panel_scene,
)


# -- tuning: metres, seconds, degrees ----------------------------------------------------------
OPEN_CONE_DEG = 35.0        # the palm's normal within this of the direction to the eyes opens ...
CLOSE_CONE_DEG = 55.0       # ... and beyond this (hysteresis) closes
OPEN_DWELL_S = 0.25         # facing must hold this long before the panel opens
CLOSE_DWELL_S = 0.20        # turning away must hold this long before it closes
LOST_GRACE_S = 1.0          # the left hand may vanish this long (hidden by the poking hand)
PALM_RANGE_M = (0.15, 0.80) # palm-to-eyes distance for the gesture to count
FOLLOW_TAU_S = 0.05         # the panel follows the hand with this time constant

HAND_GAP = 0.05             # from the left palm's centre to the panel's near edge (little-finger side)
AHEAD_M, BELOW_M = 0.42, 0.16   # a button-opened panel: this far ahead of and below the eyes
REANCHOR_M, REANCHOR_DEG = 0.9, 70.0  # ... re-placed when the head is further / turned away more

PRESS_Z = 0.003             # the fingertip joint's centre crossing this far in front of a button's face presses
RELEASE_Z = 0.015           # ... and must back out this far in front of it before another press
HOVER_Z = 0.06              # a fingertip this close in front of a button highlights it
MAX_POKE_STEP_M = 0.08      # a fingertip that moved further in one frame jumped (tracking): no press
LATCH_MARGIN = 0.03         # a pressed fingertip may wander this far outside the panel and stay pressed
PRESSED_SHOW_S = 0.20       # a pressed button looks pressed at least this long
LEAVE_CONFIRM_S = 3.0       # Leave must be pressed again within this to take effect
TRIGGER_ON, TRIGGER_OFF = 0.7, 0.35   # trigger pull / release thresholds (hysteresis)
RAY_LENGTH_M = 1.2          # a ray that hits nothing is drawn this long

NS = 1_000_000_000
_LEFT, _RIGHT = 0, 1
_INDEX_TIP = 10
_PALM_JOINTS = np.array([0, 1, 7, 12, 22])   # palm, wrist, index / middle / little proximal
_UP = np.array([0.0, 1.0, 0.0])
_REANCHOR_COS = math.cos(math.radians(REANCHOR_DEG))
_CENTRES = BUTTON_CENTRES.tolist()
_BUTTON_FACES = np.concatenate([BUTTON_CENTRES, np.full((BUTTON_COUNT, 1), BUTTON_RAISE)], axis=1)

@dataclass
class MenuState:
    """Everything the menu remembers between frames. Start with ``MenuState()``; menu_step returns
    a new one and never changes the one it is given.

    is_open: the panel is shown. opened_by: "palm", "button" or "" (closed). panel_pos (3,) and
    panel_R (3, 3): T_room_panel (R's columns: the panel's x, y and z axes in the room).
    facing_since_ns / away_since_ns: when the palm started facing the eyes (closed) / stopped
    facing them or vanished (open), or None. palm_blocked: a menu button closed the panel while
    the palm faced the eyes; the palm must turn away before it can open the panel again.
    prev_tip (3,) or None: the right index tip last frame (room). latched: the button a fingertip
    pressed and has not yet backed out of (-1: none). trigger_down / menu_down: each controller's
    trigger / menu button state last frame. pressed_until_ns (B,): a button looks pressed until
    then. leave_armed_until_ns: Leave was pressed once; a second press before then leaves.
    last_t_ns: the previous step's time.
    """

    is_open: bool = False
    opened_by: str = ""
    panel_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    panel_R: np.ndarray = field(default_factory=lambda: np.eye(3))
    facing_since_ns: int | None = None
    away_since_ns: int | None = None
    palm_blocked: bool = False
    prev_tip: np.ndarray | None = None
    latched: int = -1
    trigger_down: tuple[bool, bool] = (False, False)
    menu_down: tuple[bool, bool] = (False, False)
    pressed_until_ns: tuple[int, ...] = (0,) * BUTTON_COUNT
    leave_armed_until_ns: int = 0
    last_t_ns: int | None = None

    @property
    def panel_rot(self) -> np.ndarray:
        """(4,) T_room_panel's rotation as a quaternion x, y, z, w."""
        return P.matrix_to_quat(self.panel_R)


# -- geometry (single 3-vectors: plain float arithmetic, numpy's per-call overhead dominates) ---
def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a0, a1, a2 = a.tolist()
    b0, b1, b2 = b.tolist()
    return np.array((a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0))


def _unit(v: np.ndarray) -> np.ndarray:
    n = math.sqrt(float(v @ v))
    return v / n if n > 1e-12 else np.zeros(3)


def _forward(q: np.ndarray) -> np.ndarray:
    """(3,) the -Z axis of a rotation given as a quaternion (4,) x, y, z, w."""
    x, y, z, w = q.tolist()
    return np.array((-2.0 * (x * z + w * y), -2.0 * (y * z - w * x), -(1.0 - 2.0 * (x * x + y * y))))


def palm_normal(joints: np.ndarray, left: bool) -> np.ndarray:
    """Unit normal out of the palm (3,) from one hand's joints (26, 3) (XR_EXT_hand_tracking order).

    From the knuckle line (index to little proximal) and the wrist-to-middle-knuckle line, so it
    depends on joint positions only, not on a runtime's joint-orientation convention. A left hand
    is the mirror image, so its cross product flips.
    """
    n = _cross(joints[7] - joints[22], joints[12] - joints[1])
    return _unit(-n if left else n)


def palm_facing_angle(joints: np.ndarray, head_pos: np.ndarray, left: bool = True) -> tuple[float, float]:
    """(degrees between the palm's normal and the direction from the palm to the eyes, metres from
    the palm to the eyes) for one hand's joints (26, 3)."""
    to_head = np.asarray(head_pos, float) - joints[0]
    dist = math.sqrt(float(to_head @ to_head))
    c = float(palm_normal(joints, left) @ to_head) / max(dist, 1e-9)
    return math.degrees(math.acos(min(1.0, max(-1.0, c)))), dist


def facing_matrix(center: np.ndarray, head_pos: np.ndarray) -> np.ndarray:
    """(3, 3) R_room_panel for a panel at ``center`` turned to face the eyes, upright: +Z toward
    the eyes, +X level."""
    z = _unit(np.asarray(head_pos, float) - np.asarray(center, float))
    x = _cross(_UP, z)
    x = _unit(x) if float(x @ x) > 1e-12 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, _cross(z, x), z], axis=1)


def hand_anchor(joints: np.ndarray, head_pos: np.ndarray) -> np.ndarray:
    """(3,) panel centre beside a left hand (26, 3): past the little-finger side of the palm."""
    return joints[0] + _unit(joints[22] - joints[7]) * (HAND_GAP + PANEL_W / 2)


def head_anchor(head_pos: np.ndarray, head_rot: np.ndarray) -> np.ndarray:
    """(3,) panel centre for a button-opened panel: ahead of the eyes (where the head faces, kept
    level), lower."""
    f = _forward(np.asarray(head_rot, float))
    f[1] = 0.0
    f = _unit(f) if float(f @ f) > 1e-9 else np.array([0.0, 0.0, -1.0])
    return np.asarray(head_pos, float) + f * AHEAD_M - np.array([0.0, BELOW_M, 0.0])


def to_panel(state: MenuState, points: np.ndarray) -> np.ndarray:
    """Room points (..., 3) in the panel frame (..., 3) (x right, y up, z toward the eyes)."""
    return (np.asarray(points, float) - state.panel_pos) @ state.panel_R


def button_centres_room(state: MenuState) -> np.ndarray:
    """(B, 3) room metres: the centre of each button's face, BUTTON_ACTIONS order."""
    return state.panel_pos + _BUTTON_FACES @ state.panel_R.T


def panel_normal(state: MenuState) -> np.ndarray:
    """(3,) unit normal of the panel's face, room space (toward the wearer)."""
    return state.panel_R[:, 2].copy()


def _button_at(p: np.ndarray) -> int:
    """Index of the button under a panel-frame point (x, y, ...), or -1."""
    x, y = float(p[0]), float(p[1])
    for b, (cx, cy) in enumerate(_CENTRES):
        if abs(x - cx) <= BUTTON_W / 2 and abs(y - cy) <= BUTTON_H / 2:
            return b
    return -1


def _on_panel(p: np.ndarray, margin: float) -> bool:
    return abs(float(p[0])) <= PANEL_W / 2 + margin and abs(float(p[1])) <= PANEL_H / 2 + margin


# -- the step ----------------------------------------------------------------------------------
def menu_step(state: MenuState, *, t_ns: int, head_pos: np.ndarray, head_rot: np.ndarray,
              joints: np.ndarray, joints_valid: np.ndarray, aim_pos: np.ndarray, aim_rot: np.ndarray,
              aim_valid: np.ndarray, trigger: np.ndarray, menu_button: np.ndarray,
              toggles: dict | None = None, volume: float | None = None, available=None, roster: tuple = (),
              ) -> tuple[MenuState, list[MenuAction], list[int], PanelScene]:
    """Advance the menu to display time ``t_ns`` (int ns).

    head_pos (3,), head_rot (4,): the eyes' pose. joints (2, 26, 3) metres, joints_valid (2, 26)
    bool: tracked hands (0 left, 1 right). aim_pos (2, 3), aim_rot (2, 4), aim_valid (2,) bool:
    each controller's aim pose (pass aim_valid False where there is no controller). trigger (2,)
    0..1; menu_button (2,) bool. toggles: {MenuAction: bool} the app's current on/off state of
    MUTE, WHISPER, PASSTHROUGH, RAISE_HAND. volume: 0..1 (or more) master volume, shown in the
    title, or None. available: the MenuActions this app can do (None: all); the other buttons are
    drawn dimmed and press nothing.
    Returns (state, actions to apply in order, controller hands that should get a haptic tick,
    the PanelScene to draw).
    """
    _check_shapes(head_pos=(head_pos, (3,)), head_rot=(head_rot, (4,)), joints=(joints, (2, 26, 3)),
                  joints_valid=(joints_valid, (2, 26)), aim_pos=(aim_pos, (2, 3)), aim_rot=(aim_rot, (2, 4)),
                  aim_valid=(aim_valid, (2,)), trigger=(trigger, (2,)), menu_button=(menu_button, (2,)))
    toggles = toggles or {}
    head_pos = np.asarray(head_pos, float)
    head_rot = np.asarray(head_rot, float)
    joints = np.asarray(joints, float)
    joints_valid = np.asarray(joints_valid, bool)
    t_ns = int(t_ns)
    dt = 0.0 if state.last_t_ns is None else max(0.0, (t_ns - state.last_t_ns) / NS)
    s = copy.copy(state)                  # fields are replaced below, never changed in place
    _open_close(s, t_ns, dt, head_pos, head_rot, joints, joints_valid, menu_button)
    actions: list[MenuAction] = []
    haptics: list[int] = []
    pressed_until = list(s.pressed_until_ns)

    enabled = [available is None or a in available for a in BUTTON_ACTIONS]

    def activate(b: int) -> bool:
        """Press button b; False when it is disabled (nothing happens)."""
        if not enabled[b]:
            return False
        pressed_until[b] = t_ns + int(PRESSED_SHOW_S * NS)
        action = BUTTON_ACTIONS[b]
        if action is MenuAction.LEAVE and t_ns >= s.leave_armed_until_ns:
            s.leave_armed_until_ns = t_ns + int(LEAVE_CONFIRM_S * NS)     # ask to confirm
            return True
        if action is MenuAction.LEAVE:
            s.leave_armed_until_ns = 0
        actions.append(action)
        return True

    # Poke with the right index fingertip.
    tip = joints[_RIGHT, _INDEX_TIP]
    tip = tip.copy() if joints_valid[_RIGHT, _INDEX_TIP] and math.isfinite(float(tip.sum())) else None
    if not (s.is_open and tip is not None):
        s.latched = -1
    poke_hover = -1
    if s.is_open and tip is not None:
        cur = to_panel(s, tip)
        cur[2] -= BUTTON_RAISE                            # z from the buttons' faces
        if s.latched >= 0:
            if cur[2] > RELEASE_Z or cur[2] < -0.08 or not _on_panel(cur, LATCH_MARGIN):
                s.latched = -1                            # backed out: the next poke may press
        elif s.prev_tip is not None:
            prev = to_panel(s, s.prev_tip)
            prev[2] -= BUTTON_RAISE
            step = cur - prev
            jumped = float(step @ step) > MAX_POKE_STEP_M ** 2
            if prev[2] > PRESS_Z >= cur[2] and not jumped:  # crossed the face, from the front
                b = _button_at(prev + step * ((prev[2] - PRESS_Z) / (prev[2] - cur[2])))
                if b >= 0 and activate(b):
                    s.latched = b
        if s.latched < 0 and 0.0 < cur[2] < HOVER_Z:     # in front of the faces
            poke_hover = _button_at(cur)
            poke_hover = poke_hover if poke_hover >= 0 and enabled[poke_hover] else -1
    s.prev_tip = tip

    # Point with a controller and pull the trigger.
    ray_start = np.zeros((2, 3))
    ray_end = np.zeros((2, 3))
    ray_visible = [False, False]
    ray_hit = [False, False]
    ray_hover = [-1, -1]
    down = list(s.trigger_down)
    n = s.panel_R[:, 2]
    face = s.panel_pos + n * BUTTON_RAISE                 # a point on the buttons' faces
    for h in (_LEFT, _RIGHT):
        was = down[h]
        down[h] = float(trigger[h]) > (TRIGGER_OFF if was else TRIGGER_ON)
        origin = np.asarray(aim_pos[h], float)
        if not (s.is_open and aim_valid[h] and math.isfinite(float(origin.sum()))):
            continue
        direction = _forward(np.asarray(aim_rot[h], float))
        ray_visible[h] = True
        ray_start[h] = origin
        ray_end[h] = origin + direction * RAY_LENGTH_M
        denom = float(direction @ n)
        if denom < -1e-6:                                 # pointing at the panel's face
            dist = float((face - origin) @ n) / denom
            if 0.0 < dist < RAY_LENGTH_M:
                hit = origin + direction * dist
                local = to_panel(s, hit)
                if _on_panel(local, 0.0):
                    ray_end[h], ray_hit[h] = hit, True
                    b = _button_at(local)
                    ray_hover[h] = b if b >= 0 and enabled[b] else -1
        if down[h] and not was and ray_hover[h] >= 0 and activate(ray_hover[h]):
            haptics.append(h)
    s.trigger_down = (down[0], down[1])
    s.pressed_until_ns = tuple(pressed_until)
    s.last_t_ns = t_ns
    if not s.is_open:
        return s, actions, haptics, PanelScene.empty()
    hover = np.zeros(BUTTON_COUNT, bool)
    for b in (poke_hover, *ray_hover):
        if b >= 0:
            hover[b] = True
    pressed = np.array(pressed_until) > t_ns
    if s.latched >= 0:
        pressed[s.latched] = True
    on = np.array([a in TOGGLES and bool(toggles.get(a, False)) for a in BUTTON_ACTIONS])
    panel = panel_scene(s.panel_pos, s.panel_R, pressed=pressed, on=on, hover=hover,
                        leave_armed=s.leave_armed_until_ns > t_ns, volume=volume, ray_start=ray_start,
                        ray_end=ray_end, ray_visible=ray_visible, ray_hit=ray_hit, enabled=enabled,
                        roster=roster)
    return s, actions, haptics, panel


def _check_shapes(**arrays) -> None:
    """ValueError naming the first argument whose shape is not the expected one."""
    for name, (value, shape) in arrays.items():
        got = np.shape(value)
        if got != shape:
            raise ValueError(f"menu_step: {name} must have shape {shape}, not {got}")


def _place(s: MenuState, pos: np.ndarray, head_pos: np.ndarray) -> None:
    s.panel_pos = pos
    s.panel_R = facing_matrix(pos, head_pos)


def _open_close(s: MenuState, t_ns: int, dt: float, head_pos, head_rot, joints, joints_valid,
                menu_button) -> None:
    """Open, close and place the panel (in s): the palm gesture (dwell + hysteresis) and the menu
    button."""
    palm = joints[_LEFT, _PALM_JOINTS]
    left_ok = bool(joints_valid[_LEFT, _PALM_JOINTS].all()) and math.isfinite(float(palm.sum()))
    angle, dist = palm_facing_angle(joints[_LEFT], head_pos) if left_ok else (180.0, 0.0)
    in_range = PALM_RANGE_M[0] <= dist <= PALM_RANGE_M[1]
    facing = left_ok and in_range and angle <= OPEN_CONE_DEG
    still_facing = left_ok and in_range and angle <= CLOSE_CONE_DEG

    menu_now = (bool(menu_button[0]), bool(menu_button[1]))
    pressed = (menu_now[0] and not s.menu_down[0]) or (menu_now[1] and not s.menu_down[1])
    s.menu_down = menu_now
    if not (math.isfinite(float(head_pos.sum())) and math.isfinite(float(head_rot.sum()))):
        return                            # no eyes to face this frame: leave the panel as it is
    if pressed:
        if s.is_open:
            _close(s, palm_blocked=still_facing)
        else:
            _place(s, head_anchor(head_pos, head_rot), head_pos)
            _open(s, "button")
        return

    if s.opened_by == "button":
        off = s.panel_pos - head_pos
        d = math.sqrt(float(off @ off))
        cosang = float(off @ _forward(head_rot)) / max(d, 1e-9)
        if d > REANCHOR_M or cosang < _REANCHOR_COS:
            _place(s, head_anchor(head_pos, head_rot), head_pos)   # lazy follow: recenter, reseat
            s.prev_tip = None
        return

    if not s.is_open:
        if s.palm_blocked:
            s.palm_blocked, s.facing_since_ns = still_facing, None
        elif not facing:
            s.facing_since_ns = None
        else:
            if s.facing_since_ns is None:
                s.facing_since_ns = t_ns
            if t_ns - s.facing_since_ns >= OPEN_DWELL_S * NS:
                _place(s, hand_anchor(joints[_LEFT], head_pos), head_pos)
                _open(s, "palm")
        return

    # Open by the palm: follow the hand while it faces the eyes; close after a dwell away.
    if still_facing:
        a = 1.0 - math.exp(-dt / FOLLOW_TAU_S)
        _place(s, s.panel_pos + a * (hand_anchor(joints[_LEFT], head_pos) - s.panel_pos), head_pos)
        s.away_since_ns = None
        return
    if s.away_since_ns is None:
        s.away_since_ns = t_ns
    if t_ns - s.away_since_ns >= (CLOSE_DWELL_S if left_ok else LOST_GRACE_S) * NS:
        _close(s, palm_blocked=False)


def _open(s: MenuState, by: str) -> None:
    s.is_open, s.opened_by = True, by
    s.facing_since_ns = s.away_since_ns = None
    s.prev_tip, s.latched = None, -1


def _close(s: MenuState, palm_blocked: bool) -> None:
    s.is_open, s.opened_by = False, ""
    s.facing_since_ns = s.away_since_ns = None
    s.palm_blocked, s.latched, s.leave_armed_until_ns = palm_blocked, -1, 0


__all__ = ["MenuAction", "MenuState", "PanelScene", "menu_step", "BUTTON_ACTIONS", "TOGGLES",
           "palm_normal", "palm_facing_angle", "facing_matrix", "button_centres_room", "panel_normal",
           "to_panel"]

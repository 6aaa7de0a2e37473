"""The desktop simulator's body: keys and mouse in, a seated person's head and two hands out.

No window and no GL here: ``DesktopControls`` takes key names ("w", "2", "left_shift" ...), mouse
buttons, cursor positions and elapsed seconds, and answers with a head pose (T_stage_head) and
26-joint hands in stage space. The GLFW window (desktop.py) and scripted test input
(``InputEvent``) feed it through the same calls, so scripted runs exercise the live code path.
Seat frame: origin at the seat's eyes, x right, y up, -z toward the table (the seat's forward).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core.menu import MenuAction
from xrdemo.core.room import SEATED_EYE_HEIGHT, SEAT_CLEARANCE

# -- tuning (metres, seconds, radians) ---------------------------------------------------------
LOOK_RADIANS_PER_PIXEL = np.radians(0.15)
LOOK_KEY_RADIANS_PER_S = np.radians(90.0)
PITCH_LIMIT = np.radians(80.0)
MOVE_SPEED = 0.5                 # m/s while a lean/shift key is held
SEAT_REACH = 0.4                 # the head stays within this distance of the seat's eye point
LEAN_IN_GAP = 0.42               # leaning in stops this far from the neighbour's seat (< 0.45 m, Hall)
LEAN_IN_MAX = 0.9                # ... and never travels further than this
LEAN_IN_SECONDS = 0.35           # time to lean fully in (and back out)
LEAN_IN_TURN = 1.0               # the head turns all the way to the neighbour's face (they lean in on
                                 # the line between you, so it is their face, not their empty chair)
HAND_SMOOTHING_S = 0.08          # time constant of hands following their target pose
REACH_M_PER_PIXEL = 0.0015       # left-drag: metres of hand travel per pixel of mouse travel
REACH_M_PER_SCROLL = 0.03        # mouse wheel: metres toward / away from you per notch
REACH_LIMITS = np.array([[-0.40, 0.40], [-0.30, 0.45], [-0.35, 0.30]])   # x, y, z in the body frame
WAVE_HZ = 1.8
WAVE_AMPLITUDE = np.radians(28.0)
MAX_STEP_S = 0.1                 # longer gaps (a stalled window) count as this much time

GESTURES = ("open", "point", "pinch", "wave", "thumbs_up", "rest")
"""Hand gestures, chosen with keys 1-6 in this order."""

# Key map: (keys, action, help text). One table drives the input handling, the help overlay and
# docs/desktop.md. Keys are GLFW key names in lower case (US layout positions).
KEYMAP = (
    (("w", "s"), "lean_forward_back", "lean forward / back"),
    (("a", "d"), "shift_left_right", "shift left / right"),
    (("q", "e"), "lower_raise", "lower / raise your head"),
    (("space",), "lean_in", "hold: lean in to your nearest neighbour (whisper)"),
    (("right_mouse",), "look", "hold and drag: look around"),
    (("c",), "toggle_capture", "capture the mouse for look (C again to release)"),
    (("left", "right", "up", "down"), "look_keys", "look around with the arrow keys"),
    (("1", "2", "3", "4", "5", "6"), "gesture",
     "hands: 1 open, 2 point, 3 pinch, 4 wave, 5 thumbs-up, 6 rest on the table"),
    (("left_shift", "left_control"), "gesture_one_hand", "with 1-6: Shift = left hand only, Ctrl = right only"),
    (("left_mouse",), "reach", "hold and drag: move your right hand (Shift: left hand)"),
    (("wheel",), "reach_depth", "mouse wheel: move that hand nearer / further"),
    (("r",), "reset", "reset head, look and hands (and recenter: back to your seat)"),
    (("m",), "menu:MUTE", "mute / unmute your microphone"),
    (("t",), "talk", "hold: talk (with [audio] push_to_talk = true)"),
    (("b",), "menu:WHISPER", "whisper to your nearest neighbour on / off"),
    (("p",), "menu:PASSTHROUGH", "passthrough on / off (headsets with a camera view)"),
    (("equal", "minus"), "menu:VOLUME", "volume up / down (also keypad + and -)"),
    (("j",), "menu:RAISE_HAND", "raise / lower your hand"),
    (("n",), "menu:SEAT_NEXT", "move to the next free seat"),
    (("l",), "menu:LEAVE", "leave the meeting"),
    (("v",), "toggle_stereo", "single view / side-by-side stereo"),
    (("h",), "toggle_help", "show / hide this help"),
    (("escape",), "quit", "quit"),
)
ACTION_KEYS = {
    "m": MenuAction.MUTE, "b": MenuAction.WHISPER, "p": MenuAction.PASSTHROUGH,
    "r": MenuAction.RECENTER, "equal": MenuAction.VOLUME_UP, "kp_add": MenuAction.VOLUME_UP,
    "minus": MenuAction.VOLUME_DOWN, "kp_subtract": MenuAction.VOLUME_DOWN,
    "j": MenuAction.RAISE_HAND, "n": MenuAction.SEAT_NEXT, "l": MenuAction.LEAVE,
}
"""Keys that ask for a menu action (the same actions as the in-headset menu, core/menu.py); the
window reports each press as an EventKind.ACTION event. R also resets the simulated body."""
TALK_KEY = "t"
"""Held: push-to-talk (the window reports presses and releases as EventKind.TALK events)."""
WINDOW_ACTIONS = {"toggle_capture": "c", "toggle_stereo": "v", "toggle_help": "h", "quit": "escape"}
"""Actions the window itself handles (the controls below ignore these keys)."""

_MOVE_KEYS = {"w": (2, -1.0), "s": (2, 1.0), "a": (0, -1.0), "d": (0, 1.0), "q": (1, -1.0), "e": (1, 1.0)}
_LOOK_KEYS = {"left": (0, 1.0), "right": (0, -1.0), "up": (1, 1.0), "down": (1, -1.0)}
_SHIFT = ("left_shift", "right_shift")
_CTRL = ("left_control", "right_control")
_SIDE = np.array([-1.0, 1.0])    # left hand on -x of the body frame


@dataclass
class SeatFrame:
    """Where the desktop person sits.

    position: (3,) stage metres of the seat's eye point; yaw: radians (pose.quat_from_yaw_pitch_roll,
    0 faces -Z); table_height: metres of the table top (hands rest on it and never sink below it);
    neighbours: (M, 3) stage head positions of the other people (the lean-in key leans toward the
    nearest), or None.
    """

    position: np.ndarray = field(
        default_factory=lambda: np.array([0.0, SEATED_EYE_HEIGHT, 0.9 + SEAT_CLEARANCE]))
    yaw: float = 0.0
    table_height: float = 0.74
    neighbours: np.ndarray | None = None


@dataclass(frozen=True)
class InputEvent:
    """One synthetic input event, applied at the start of frame ``frame`` (0-based).

    kind: "key" (name: GLFW key name such as "w", "2", "space", "left_shift"), "button" (name:
    "left", "right" or "middle"), "cursor" (x, y: window pixels from the top left) or "scroll"
    (y: notches, + = away from you). action: "press", "release" or "tap" (press now, release on
    the next frame) for keys and buttons.
    """

    frame: int
    kind: str
    name: str = ""
    action: str = "tap"
    x: float = 0.0
    y: float = 0.0


def parse_input_script(items) -> list[InputEvent]:
    """InputEvents from JSON-like dicts (or a JSON string), sorted by frame.

    {"frame": 3, "key": "2"} taps a key; {"frame": 3, "key": "d", "action": "press"} holds it;
    {"frame": 5, "button": "left", "action": "press"}; {"frame": 6, "cursor": [320, 200]};
    {"frame": 7, "scroll": 1}. ValueError names the bad entry.
    """
    if isinstance(items, str):
        items = json.loads(items)
    events = []
    for i, item in enumerate(items):
        try:
            frame = int(item["frame"])
            action = item.get("action", "tap")
            if action not in ("press", "release", "tap"):
                raise ValueError(f"action must be press, release or tap, not {action!r}")
            if "key" in item:
                ev = InputEvent(frame, "key", str(item["key"]).lower(), action)
            elif "button" in item:
                if item["button"] not in ("left", "right", "middle"):
                    raise ValueError(f"button must be left, right or middle, not {item['button']!r}")
                ev = InputEvent(frame, "button", item["button"], action)
            elif "cursor" in item:
                x, y = item["cursor"]
                ev = InputEvent(frame, "cursor", x=float(x), y=float(y))
            elif "scroll" in item:
                ev = InputEvent(frame, "scroll", y=float(item["scroll"]))
            else:
                raise ValueError("needs one of key, button, cursor, scroll")
            if frame < 0:
                raise ValueError("frame must be >= 0")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"input script entry {i} ({item!r}): {exc}") from None
        events.append(ev)
    return sorted(events, key=lambda e: e.frame)


def _smooth(dt: float, tau: float) -> float:
    """Fraction of the way to move toward a target this step (first-order lag, time constant tau)."""
    return 1.0 - float(np.exp(-max(dt, 0.0) / tau))


def _mirror_quat(q: np.ndarray) -> np.ndarray:
    """Rotations of a right hand mirrored into a left hand (x -> -x). (..., 4) -> (..., 4)."""
    out = np.array(q, dtype=np.float64, copy=True)
    out[..., 1:3] *= -1.0
    return out


_Z_AXIS = np.array([0.0, 0.0, 1.0])
_POSE = {name: H.pose_index(name) for name in H.POSE_NAMES}


class DesktopControls:
    """State of the simulated person; feed it input, ``advance(dt)``, then read head and hands.

    Everything is deterministic given the same calls: no clock is read here.
    """

    def __init__(self, seat: SeatFrame | None = None):
        self.seat = seat or SeatFrame()
        self.held: set[str] = set()
        self.buttons: set[str] = set()
        self._cursor: tuple[float, float] | None = None
        self.captured = False            # the window captured the cursor: motion looks around
        self.reach_hand = 1              # the hand a left-drag / wheel moves
        self.actions: list[MenuAction] = []   # menu actions asked for by keys, oldest first
        self.t_s = 0.0
        self.reset()
        n = len(H.POSE_NAMES)
        self._weights = np.zeros((2, n))
        self._wrist_p = np.zeros((2, 3))
        self._wrist_q = np.zeros((2, 4))
        self._snap_hands = True

    # -- input ---------------------------------------------------------------------------------
    def reset(self) -> None:
        """Head back to the seat looking straight ahead, hands resting on the table."""
        self.yaw = 0.0                   # radians, relative to the seat
        self.pitch = np.radians(-12.0)
        self.offset = np.zeros(3)        # stage metres, from the seat's eye point
        self.talk_changes: list[bool] = []
        self.lean_in = 0.0               # 0..1 how far leaned in
        self.lean_target: int | None = None
        self.gestures = ["rest", "rest"]
        self.reach = np.zeros((2, 3))    # body-frame metres added to each wrist

    def key(self, name: str, pressed: bool) -> None:
        """A key went down (pressed) or up. Names are GLFW key names in lower case."""
        if name == TALK_KEY and pressed != (name in self.held):
            self.talk_changes.append(pressed)
        if not pressed:
            self.held.discard(name)
            return
        self.held.add(name)
        if name in ACTION_KEYS:
            self.actions.append(ACTION_KEYS[name])
        if name in "123456" and len(name) == 1:
            gesture = GESTURES[int(name) - 1]
            hands = [0] if self.held & set(_SHIFT) else [1] if self.held & set(_CTRL) else [0, 1]
            for hand in hands:
                self.gestures[hand] = gesture
        elif name == "r":
            self.reset()
        elif name == "space":
            self.lean_target = self._pick_neighbour()

    def take_talk_changes(self) -> list[bool]:
        """The push-to-talk key's presses (True) and releases (False) since the last call."""
        changes, self.talk_changes = self.talk_changes, []
        return changes

    def take_actions(self) -> list[MenuAction]:
        """The menu actions keys asked for since the last call, oldest first (and forget them)."""
        actions, self.actions = self.actions, []
        return actions

    def mouse_button(self, button: str, pressed: bool) -> None:
        """"left", "right" or "middle" went down or up."""
        if pressed:
            self.buttons.add(button)
            if button == "left":
                self.reach_hand = 0 if self.held & set(_SHIFT) else 1
        else:
            self.buttons.discard(button)

    def cursor(self, x: float, y: float) -> None:
        """The cursor is at (x, y) window pixels (or, when captured, an unbounded virtual position)."""
        if self._cursor is not None:
            dx, dy = x - self._cursor[0], y - self._cursor[1]
            if self.captured or "right" in self.buttons:
                self.look(dx, dy)
            if "left" in self.buttons:
                hand = self.reach_hand
                self.reach[hand, 0] += dx * REACH_M_PER_PIXEL
                self.reach[hand, 1] -= dy * REACH_M_PER_PIXEL
                self._clamp_reach()
        self._cursor = (float(x), float(y))

    def forget_cursor(self) -> None:
        """The next cursor position starts a new drag (after capture toggles or focus changes)."""
        self._cursor = None

    def scroll(self, notches: float) -> None:
        """Mouse wheel: + moves the reaching hand away from you (toward the table centre)."""
        self.reach[self.reach_hand, 2] -= notches * REACH_M_PER_SCROLL
        self._clamp_reach()

    def look(self, dx_pixels: float, dy_pixels: float) -> None:
        """Turn the head by a mouse motion (pixels right, down)."""
        self.yaw -= dx_pixels * LOOK_RADIANS_PER_PIXEL
        self.pitch = float(np.clip(self.pitch - dy_pixels * LOOK_RADIANS_PER_PIXEL, -PITCH_LIMIT, PITCH_LIMIT))

    def release_all(self) -> None:
        """Forget held keys and buttons (the window lost focus and will not see their release)."""
        self.held.clear()
        self.buttons.clear()
        self._cursor = None

    def _clamp_reach(self) -> None:
        self.reach = np.clip(self.reach, REACH_LIMITS[:, 0], REACH_LIMITS[:, 1])

    # -- time ----------------------------------------------------------------------------------
    def advance(self, dt: float) -> None:
        """Integrate held keys, the lean-in and the hands over dt seconds."""
        dt = float(min(max(dt, 0.0), MAX_STEP_S))
        self.t_s += dt
        move = np.zeros(3)
        for k in self.held & _MOVE_KEYS.keys():
            axis, sign = _MOVE_KEYS[k]
            move[axis] += sign
        if move.any():
            q_yaw = P.quat_from_yaw_pitch_roll(self.seat.yaw + self.yaw)
            self.offset = self.offset + P.quat_rotate(q_yaw, move) * MOVE_SPEED * dt
            dist = np.linalg.norm(self.offset)
            if dist > SEAT_REACH:
                self.offset *= SEAT_REACH / dist
        for k in self.held & _LOOK_KEYS.keys():
            axis, sign = _LOOK_KEYS[k]
            if axis == 0:
                self.yaw += sign * LOOK_KEY_RADIANS_PER_S * dt
            else:
                self.pitch = float(np.clip(self.pitch + sign * LOOK_KEY_RADIANS_PER_S * dt,
                                           -PITCH_LIMIT, PITCH_LIMIT))
        target = 1.0 if "space" in self.held else 0.0
        step = dt / LEAN_IN_SECONDS
        self.lean_in = float(np.clip(self.lean_in + np.clip(target - self.lean_in, -step, step), 0, 1))
        self._advance_hands(dt)

    # -- head ----------------------------------------------------------------------------------
    def _pick_neighbour(self) -> int | None:
        """The neighbour to lean toward: the nearest, ties broken toward where you look."""
        nb = self.seat.neighbours
        if nb is None or len(nb) == 0:
            return None
        head = self.seat.position + self.offset
        d = np.asarray(nb, float) - head
        dist = np.linalg.norm(d, axis=1)
        look = P.quat_rotate(P.quat_from_yaw_pitch_roll(self.seat.yaw + self.yaw), np.array([0, 0, -1.0]))
        facing = (d @ look) / np.maximum(dist, 1e-9)
        return int(np.argmin(dist * (1.0 - 0.1 * facing)))

    def _lean_vector(self) -> tuple[np.ndarray, float, float]:
        """(stage offset of the fully leaned-in head from the unleaned head, yaw change, pitch
        change) that bring the neighbour's face (leaning in to meet you) to the view's centre."""
        nb = self.seat.neighbours
        base = self.seat.position + self.offset
        if self.lean_target is None or nb is None or self.lean_target >= len(nb):
            side = 1.0 if self.yaw <= 0 else -1.0
            q = P.quat_from_yaw_pitch_roll(self.seat.yaw + self.yaw)
            return P.quat_rotate(q, np.array([side * 0.35, -0.05, 0.0])), 0.0, 0.0
        seat_n = np.asarray(nb[self.lean_target], float)
        d = seat_n - base
        d[1] = 0.0
        dist = float(np.linalg.norm(d))
        travel = float(np.clip(dist - LEAN_IN_GAP, 0.0, LEAN_IN_MAX))
        vec = d / max(dist, 1e-9) * travel + np.array([0.0, -0.05, 0.0])
        yaw_to = float(np.arctan2(-d[0], -d[2])) - (self.seat.yaw + self.yaw)
        yaw_to = (yaw_to + np.pi) % (2 * np.pi) - np.pi
        # Their face, leaning toward yours: on the line from your leaned head to their seat.
        face = seat_n - (base + vec)
        pitch_to = float(np.arctan2(face[1], np.hypot(face[0], face[2]))) - self.pitch
        return vec, LEAN_IN_TURN * yaw_to, LEAN_IN_TURN * pitch_to

    def head_pose(self) -> tuple[np.ndarray, np.ndarray]:
        """T_stage_head: position (3,) metres and orientation (4,) x, y, z, w."""
        pos = self.seat.position + self.offset
        yaw = self.seat.yaw + self.yaw
        pitch = self.pitch
        if self.lean_in > 0.0:
            s = self.lean_in * self.lean_in * (3.0 - 2.0 * self.lean_in)
            vec, turn, tilt = self._lean_vector()
            pos = pos + s * vec
            yaw += s * turn
            pitch += s * tilt
        return pos, P.quat_from_yaw_pitch_roll(yaw, pitch)

    def whisper_lean(self) -> float:
        """0..1: how far the lean-in key has leaned you toward a neighbour."""
        return self.lean_in

    # -- hands ---------------------------------------------------------------------------------
    def _body(self, raised: bool) -> tuple[np.ndarray, np.ndarray]:
        """Body frame (origin, orientation) the hands hang from: the seat, following half the lean
        and, for raised hands, half the head's turn (so you can point at whom you look at)."""
        turn = 0.5 * float(np.clip(self.yaw, -np.radians(60), np.radians(60))) if raised else 0.0
        origin = self.seat.position + 0.5 * self.offset * np.array([1.0, 0.0, 1.0])
        return origin, P.quat_from_yaw_pitch_roll(self.seat.yaw + turn)

    def _target(self, hand: int, gesture: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Target wrist position (3,), orientation (4,) stage, and pose weights for one hand."""
        side = _SIDE[hand]
        weights = np.zeros(len(H.POSE_NAMES))
        eye_to_table = self.seat.table_height - self.seat.position[1]
        if gesture == "rest":
            local = np.array([side * 0.20, eye_to_table + 0.022, -0.37])
            q_local = P.quat_from_yaw_pitch_roll(-side * np.radians(14.0))
            weights[_POSE["flat"]], weights[_POSE["relaxed"]] = 0.6, 0.4
        elif gesture == "wave":
            local = np.array([side * 0.30, -0.10, -0.50])
            swing = side * WAVE_AMPLITUDE * np.sin(2 * np.pi * WAVE_HZ * self.t_s)
            q_local = P.quat_mul(P.quat_from_axis_angle(_Z_AXIS, swing),
                                 P.quat_from_yaw_pitch_roll(-side * np.radians(10.0), np.radians(85.0)))
            weights[_POSE["open"]] = 1.0
        elif gesture == "point":
            local = np.array([side * 0.16, -0.30, -0.38])
            weights[_POSE["point"]] = 1.0
            q_local = None          # set below, from the look direction
        else:
            local = np.array([side * 0.19, -0.31, -0.42])
            pitch, roll, yaw = {"open": (25.0, 60.0, 10.0), "pinch": (20.0, 70.0, 20.0),
                                "thumbs_up": (0.0, 90.0, 10.0)}[gesture]
            q_local = P.quat_from_yaw_pitch_roll(-side * np.radians(yaw), np.radians(pitch),
                                                 side * np.radians(roll))
            weights[_POSE[gesture]] = 1.0
        origin, q_body = self._body(gesture != "rest")
        pos = origin + P.quat_rotate(q_body, local + self.reach[hand])
        if q_local is None:         # point along the line of sight, thumb up
            _, q_head = self.head_pose()
            head_pos = self.seat.position + self.offset
            aim_at = head_pos + P.quat_rotate(q_head, np.array([0.0, 0.0, -1.5]))
            q = P.quat_mul(P.look_rotation(aim_at - pos), P.quat_from_yaw_pitch_roll(0, 0, side * np.radians(80.0)))
        else:
            q = P.quat_mul(q_body, q_local)
        return pos, q, weights

    def _advance_hands(self, dt: float) -> None:
        targets = [self._target(h, self.gestures[h]) for h in (0, 1)]
        a = 1.0 if self._snap_hands else _smooth(dt, HAND_SMOOTHING_S)
        self._snap_hands = False
        for h, (p, q, w) in enumerate(targets):
            self._wrist_p[h] += a * (p - self._wrist_p[h])
            self._weights[h] += a * (w - self._weights[h])
            prev = self._wrist_q[h] if np.any(self._wrist_q[h]) else q
            self._wrist_q[h] = P.quat_slerp(prev, q, a)

    def hands(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Both hands now: positions (2, 26, 3) metres, orientations (2, 26, 4), radii (2, 26) metres,
        stage space, XR_EXT_hand_tracking joint order, index 0 left, 1 right. Call advance() first."""
        if self._snap_hands:
            self._advance_hands(0.0)
        local = H.blend_poses(self._weights)                              # (2, 26, 3)
        is_left = np.array([True, False])
        pos = H.hands_to_stage(self._wrist_p, self._wrist_q, local, is_left)
        radii = np.broadcast_to(H.TYPICAL_RADII, (2, H.JOINT_COUNT)).copy()
        lowest = (pos[..., 1] - radii).min(axis=-1)                       # never sink into the table
        pos[..., 1] += np.maximum(0.0, self.seat.table_height + 0.002 - lowest)[:, None]
        # Joint orientations: weighted, sign-aligned mean of the library's (a normalised lerp).
        lib = H.POSE_LIBRARY_ROTATIONS                                    # (L, 26, 4)
        sign = np.sign(np.sum(lib * lib[:1], axis=-1, keepdims=True))
        sign[sign == 0] = 1.0
        w = self._weights / np.maximum(self._weights.sum(axis=1, keepdims=True), 1e-12)
        q_local = P.normalize(np.einsum("hl,ljc->hjc", w, lib * sign))
        q_local[0] = _mirror_quat(q_local[0])
        rot = P.quat_mul(self._wrist_q[:, None, :], q_local)
        return pos, P.normalize(rot), radii


def seat_of(state) -> SeatFrame:
    """The SeatFrame of a meeting's local person (core.scene.MeetingState): their seat's eye point
    and yaw, the table height, and everyone else's seat as neighbours for the lean-in key."""
    k = state.local
    if not 0 <= k < len(state.seat_pos):
        raise ValueError(f"the meeting has no local person to seat (local = {k})")
    others = np.delete(np.asarray(state.seat_pos, float), k, axis=0)
    return SeatFrame(position=np.asarray(state.seat_pos[k], float).copy(), yaw=float(state.seat_yaw[k]),
                     table_height=float(state.table.height), neighbours=others)

"""What the in-headset menu looks like, as data: its actions, the grid of buttons, their labels,
sizes and colours, and the PanelScene (numpy, nothing GL) that render/panel.py draws.

The behaviour (opening, pressing) is core/menu.py. Panel frame: origin at the panel's centre, +X
to the wearer's right, +Y up, +Z out of the panel's face toward the eyes; metres.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np



class MenuAction(enum.Enum):
    """What a button (or a desktop key) asks the app to do."""

    MUTE = "mute"                    # toggle: the microphone's audio stops leaving the machine
    WHISPER = "whisper"              # toggle: whisper to my nearest neighbour (as leaning in does)
    PASSTHROUGH = "passthrough"      # toggle: show the real room around the table
    RECENTER = "recenter"            # put me back in my seat, facing the table
    VOLUME_DOWN = "volume_down"      # master volume one step down
    VOLUME_UP = "volume_up"          # master volume one step up
    RAISE_HAND = "raise_hand"        # toggle: a raised hand everyone sees
    SEAT_NEXT = "seat_next"          # move to the next free seat
    LEAVE = "leave"                  # leave the meeting (the panel asks to confirm first)


TOGGLES = (MenuAction.MUTE, MenuAction.WHISPER, MenuAction.PASSTHROUGH, MenuAction.RAISE_HAND)
"""Actions whose button shows an on/off state (from menu_step's ``toggles``)."""

BUTTONS = (
    (MenuAction.MUTE, MenuAction.WHISPER, MenuAction.PASSTHROUGH),
    (MenuAction.VOLUME_DOWN, MenuAction.VOLUME_UP, MenuAction.RAISE_HAND),
    (MenuAction.RECENTER, MenuAction.SEAT_NEXT, MenuAction.LEAVE),
)
"""The panel's grid of buttons, top row first, left to right."""

LABELS = {
    # action: (label when off, label when on)
    MenuAction.MUTE: ("Mute", "Muted"),
    MenuAction.WHISPER: ("Whisper", "Whispering"),
    MenuAction.PASSTHROUGH: ("Passthrough", "Room: real"),
    MenuAction.RECENTER: ("Recenter", "Recenter"),
    MenuAction.VOLUME_DOWN: ("Vol -", "Vol -"),
    MenuAction.VOLUME_UP: ("Vol +", "Vol +"),
    MenuAction.RAISE_HAND: ("Raise hand", "Lower hand"),
    MenuAction.SEAT_NEXT: ("Next seat", "Next seat"),
    MenuAction.LEAVE: ("Leave", "Leave"),
}
LEAVE_CONFIRM_LABEL = "Sure? Leave"

BUTTON_W, BUTTON_H = 0.078, 0.042
GAP = 0.006                 # between buttons and around them
TITLE_H = 0.020
BUTTON_RAISE = 0.004        # button faces stand this far in front of the back plate ...
PRESSED_SINK = 0.003        # ... and sink this far when pressed
ROWS, COLS = len(BUTTONS), len(BUTTONS[0])
PANEL_W = COLS * BUTTON_W + (COLS + 1) * GAP
PANEL_H = ROWS * BUTTON_H + (ROWS + 2) * GAP + TITLE_H
RAY_WIDTH_M = 0.003

# Colours: linear RGBA.
PLATE_COLOR = np.array([0.010, 0.012, 0.016, 0.92], np.float32)
BUTTON_COLOR = np.array([0.045, 0.055, 0.075, 1.0], np.float32)
HOVER_COLOR = np.array([0.10, 0.20, 0.42, 1.0], np.float32)
PRESSED_COLOR = np.array([0.30, 0.50, 0.95, 1.0], np.float32)
ON_COLOR = np.array([0.62, 0.20, 0.0, 1.0], np.float32)
LEAVE_COLOR = np.array([0.35, 0.03, 0.02, 1.0], np.float32)
CONFIRM_COLOR = np.array([0.75, 0.05, 0.03, 1.0], np.float32)
DISABLED_COLOR = np.array([0.025, 0.027, 0.030, 1.0], np.float32)
DISABLED_TEXT = np.array([0.16, 0.17, 0.19, 1.0], np.float32)
TEXT_LIGHT = np.array([0.92, 0.93, 0.95, 1.0], np.float32)
TEXT_DARK = np.array([0.005, 0.005, 0.008, 1.0], np.float32)
TITLE_TEXT = np.array([0.55, 0.60, 0.68, 1.0], np.float32)
RAY_COLOR = np.array([0.55, 0.75, 1.0, 0.85], np.float32)


def _button_layout():
    """Per button (in BUTTONS order, row-major): action, centre (x, y) in the panel frame."""
    actions, centres = [], []
    top = PANEL_H / 2 - GAP - TITLE_H - GAP
    for r, row in enumerate(BUTTONS):
        for c, action in enumerate(row):
            x = -PANEL_W / 2 + GAP + BUTTON_W / 2 + c * (BUTTON_W + GAP)
            y = top - BUTTON_H / 2 - r * (BUTTON_H + GAP)
            actions.append(action)
            centres.append((x, y))
    return tuple(actions), np.array(centres)


BUTTON_ACTIONS, BUTTON_CENTRES = _button_layout()
"""(B,) MenuActions and (B, 2) metres: each button's centre in the panel frame."""
BUTTON_COUNT = len(BUTTON_ACTIONS)
_HALF = np.array([BUTTON_W / 2, BUTTON_H / 2])


@dataclass
class PanelScene:
    """What to draw this frame, as numpy (nothing GL). Q quads: the back plate, the title, then the
    B buttons in BUTTON_ACTIONS order; none when the panel is closed.

    transforms: (Q, 4, 4) float32, row-major, room space: each maps the unit quad (x, y in -0.5..0.5,
    z = 0, facing +Z) to its place and size. colors: (Q, 4) float32 linear RGBA of each quad;
    text_colors: (Q, 4) float32 of its label; labels: Q strings ("" for no text). actions: Q
    MenuActions (None for the plate and title). pressed, hover, on: (Q,) bool; enabled: (Q,)
    bool, False for a button whose action this app cannot do (drawn dimmed, presses nothing). ray_start,
    ray_end: (2, 3) float32 room metres, one per controller (0 left, 1 right); ray_visible: (2,)
    bool; ray_hit: (2,) bool, that ray ends on the panel.
    """

    transforms: np.ndarray
    colors: np.ndarray
    text_colors: np.ndarray
    labels: tuple
    actions: tuple
    pressed: np.ndarray
    hover: np.ndarray
    on: np.ndarray
    ray_start: np.ndarray
    ray_end: np.ndarray
    ray_visible: np.ndarray
    ray_hit: np.ndarray
    enabled: np.ndarray

    @staticmethod
    def empty() -> "PanelScene":
        z = np.zeros(0, bool)
        return PanelScene(np.zeros((0, 4, 4), np.float32), np.zeros((0, 4), np.float32),
                          np.zeros((0, 4), np.float32), (), (), z, z.copy(), z.copy(),
                          np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32),
                          np.zeros(2, bool), np.zeros(2, bool), z.copy())

    def __len__(self) -> int:
        return int(self.transforms.shape[0])

    def button_index(self, action: MenuAction) -> int:
        """Quad index of an action's button."""
        return self.actions.index(action)


ROSTER_W, ROSTER_LINE_H = 0.20, 0.022
"""The who-is-here list beside the buttons: width and line height (metres)."""
ROSTER_MAX = 12


def panel_scene(panel_pos: np.ndarray, panel_R: np.ndarray, *, pressed: np.ndarray, on: np.ndarray,
                hover: np.ndarray, leave_armed: bool, volume: float | None, ray_start: np.ndarray,
                ray_end: np.ndarray, ray_visible: np.ndarray, ray_hit: np.ndarray,
                enabled: np.ndarray | None = None, roster: tuple = ()) -> PanelScene:
    """The PanelScene of an open panel at T_room_panel (panel_pos (3,), rotation panel_R (3, 3)).

    pressed, on, hover, enabled: (B,) bool per button (BUTTON_ACTIONS order; enabled None: all).
    leave_armed: Leave asks to be confirmed. volume: shown in the title (None: not shown). Rays as in PanelScene.
    roster: lines of who is here (status.roster_lines), drawn as a list to the right of the buttons
    (quads after the buttons, no action).
    """
    pressed, on, hover = (np.asarray(v, bool) for v in (pressed, on, hover))
    enabled = np.ones(BUTTON_COUNT, bool) if enabled is None else np.asarray(enabled, bool)
    is_leave = _IS_LEAVE
    colors = _BASE_COLORS.copy()
    b = colors[2:]
    b[is_leave] = CONFIRM_COLOR if leave_armed else LEAVE_COLOR
    b[on & ~is_leave] = ON_COLOR
    b[hover & ~on & ~is_leave] = HOVER_COLOR
    b[pressed] = PRESSED_COLOR
    b[~enabled] = DISABLED_COLOR
    text = _BASE_TEXT.copy()
    text[2:][pressed] = TEXT_DARK
    text[2:][~enabled] = DISABLED_TEXT
    labels = ["", "Menu" if volume is None else f"Menu   volume {round(100 * float(volume))}%"]
    labels += [LEAVE_CONFIRM_LABEL if (leave_armed and a is MenuAction.LEAVE) else LABELS[a][int(o)]
               for a, o in zip(BUTTON_ACTIONS, on.tolist())]
    centres = _QUAD_CENTRES.copy()
    centres[2:, 2] -= pressed * PRESSED_SINK
    R = np.asarray(panel_R, float)
    m = np.zeros((2 + BUTTON_COUNT, 4, 4))
    m[:, :3, :3] = R[None] * _QUAD_SCALE[:, None, :]          # columns scaled by width, height, 1
    m[:, :3, 3] = np.asarray(panel_pos, float) + centres @ R.T
    m[:, 3, 3] = 1.0
    no = np.zeros(2, bool)
    actions = (None, None) + BUTTON_ACTIONS
    roster = tuple(roster)[:ROSTER_MAX]
    if roster:                      # who is here: one plate-coloured line each, right of the panel
        r = len(roster)
        lines = np.zeros((r, 4, 4))
        lines[:, :3, :3] = R[None] * np.array([ROSTER_W, ROSTER_LINE_H, 1.0])[None, None, :]
        centre = np.zeros((r, 3))
        centre[:, 0] = PANEL_W / 2 + GAP + ROSTER_W / 2
        centre[:, 1] = PANEL_H / 2 - ROSTER_LINE_H / 2 - np.arange(r) * (ROSTER_LINE_H + GAP / 2)
        lines[:, :3, 3] = np.asarray(panel_pos, float) + centre @ R.T
        lines[:, 3, 3] = 1.0
        m = np.concatenate([m, lines])
        colors = np.concatenate([colors, np.tile(PLATE_COLOR, (r, 1))])
        text = np.concatenate([text, np.tile(TEXT_LIGHT, (r, 1))])
        labels += list(roster)
        actions += (None,) * r
        no_r = np.zeros(r, bool)
        pressed, hover, on, enabled = (np.concatenate([v, no_r]) for v in (pressed, hover, on, enabled))
    return PanelScene(m.astype(np.float32), colors, text, tuple(labels), actions,
                      np.concatenate([no, pressed]), np.concatenate([no, hover]), np.concatenate([no, on]),
                      np.asarray(ray_start, np.float32), np.asarray(ray_end, np.float32),
                      np.asarray(ray_visible, bool), np.asarray(ray_hit, bool),
                      np.concatenate([no, enabled]))


def _static_quads():
    """Per quad (plate, title, buttons): scale (Q, 3) and resting centre (Q, 3) in the panel frame,
    and the base background and text colours (Q, 4)."""
    q = 2 + BUTTON_COUNT
    scale = np.ones((q, 3))
    centres = np.zeros((q, 3))
    scale[0, :2] = (PANEL_W, PANEL_H)
    scale[1, :2] = (PANEL_W - 2 * GAP, TITLE_H)
    scale[2:, :2] = (BUTTON_W, BUTTON_H)
    centres[1] = (0.0, PANEL_H / 2 - GAP - TITLE_H / 2, BUTTON_RAISE / 2)
    centres[2:, :2] = BUTTON_CENTRES
    centres[2:, 2] = BUTTON_RAISE
    colors = np.tile(BUTTON_COLOR, (q, 1))
    colors[:2] = PLATE_COLOR
    text = np.tile(TEXT_LIGHT, (q, 1))
    text[1] = TITLE_TEXT
    return scale, centres, colors, text


_QUAD_SCALE, _QUAD_CENTRES, _BASE_COLORS, _BASE_TEXT = _static_quads()
_IS_LEAVE = np.array([a is MenuAction.LEAVE for a in BUTTON_ACTIONS])

"""Volume: a master volume and a volume per person. VOLUME_UP / VOLUME_DOWN (menu, = and - keys)
turn up or down the person you look at (within LOOK_CONE_DEG of where your head points), else
everyone. Per-person volumes are remembered for people whose identity is known (by key
fingerprint, in ``volumes.json`` beside the table alignment); a change shows in the status line for
a few seconds. The gains reach the audio process with the whisper gains it already takes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..core import pose as P
from .frame_loop import FramePart

STEP_DB = 3.0
MIN_DB, MAX_DB = -30.0, 12.0
LOOK_CONE_DEG = 15.0
SHOW_S = 3.0
NS = 1_000_000_000


def default_volumes_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or (os.environ.get("APPDATA") if os.name == "nt" else None)
    return (Path(base) if base else Path.home() / ".config") / "xrdemo" / "volumes.json"


def looked_at(head_pos, head_rot, heads: np.ndarray, present: np.ndarray, local: int,
              cone_deg: float = LOOK_CONE_DEG) -> int:
    """The person (seat) whose head is nearest the head's forward direction within cone_deg, or -1."""
    forward = P.quat_rotate(np.asarray(head_rot, float), np.array([0.0, 0.0, -1.0]))
    d = heads - np.asarray(head_pos, float)
    cos = (d @ forward) / np.maximum(np.linalg.norm(d, axis=1), 1e-9)
    cos[local] = -2.0
    cos[~present] = -2.0
    k = int(np.argmax(cos))
    return k if cos[k] >= np.cos(np.radians(cone_deg)) else -1


class Volume(FramePart):
    """Master and per-person volume (dB). ``gains()`` (N,) linear, for the audio. room: the
    RoomPart (for fingerprints; None in a local meeting). path: where volumes are remembered."""

    def __init__(self, log=print, room=None, path: Path | None = None):
        self.log, self.room = log, room
        self.path = Path(path) if path else default_volumes_path()
        self.master_db = 0.0
        self.person_db = np.zeros(0)
        self.shown = ""
        self._shown_until = 0
        self._remembered = self._load()
        self._fingerprints: list[str] = []

    def _load(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {str(k): float(np.clip(v, MIN_DB, MAX_DB)) for k, v in data.items()
                    if isinstance(v, (int, float)) and np.isfinite(v)}
        except (OSError, ValueError, AttributeError):
            return {}

    def _save(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self._remembered, indent=1) + "\n", encoding="utf-8")
        except OSError as exc:
            self.log(f"volume: not remembered ({exc})")

    def on_meeting(self, loop, state) -> None:
        self.person_db = np.zeros(len(state.people))

    def on_inputs(self, tick) -> None:
        if self.room is None:
            return
        members = self.room.net.client.roster
        fps = ["" for _ in range(len(self.person_db))]
        for seat, m in members.items():
            if 0 <= seat < len(fps) and getattr(m, "verified", 0) == 1:
                fps[seat] = getattr(m, "fingerprint", "")
        if fps != self._fingerprints:                   # someone came: their remembered volume
            self._fingerprints = fps
            for seat, fp in enumerate(fps):
                if fp:
                    self.person_db[seat] = self._remembered.get(fp, self.person_db[seat])

    def change(self, tick, up: bool) -> None:
        """Turn the person looked at (or everyone) up or down by STEP_DB."""
        state = tick.state
        ppl = state.people
        head = tick.room.head
        present = ppl.present if ppl.present is not None else np.ones(len(ppl), bool)
        k = looked_at(head.position, head.orientation, ppl.head_pos, present, state.local) if head.valid else -1
        step = STEP_DB if up else -STEP_DB
        if k >= 0:
            self.person_db[k] = float(np.clip(self.person_db[k] + step, MIN_DB, MAX_DB))
            what = f"{ppl.names[k]} {self.person_db[k]:+.0f} dB"
            fp = self._fingerprints[k] if k < len(self._fingerprints) else ""
            if fp:
                self._remembered[fp] = self.person_db[k]
                self._save()
        else:
            self.master_db = float(np.clip(self.master_db + step, MIN_DB, MAX_DB))
            what = f"everyone {self.master_db:+.0f} dB"
        self.shown = f"volume: {what}"
        self._shown_until = tick.t_ns + int(SHOW_S * NS)
        self.log(self.shown)

    def after_frame(self, tick) -> None:
        if self.shown and tick.t_ns > self._shown_until:
            self.shown = ""

    def gains(self) -> np.ndarray:
        """(N,) linear gain per person: master x person."""
        return 10.0 ** ((self.master_db + self.person_db) / 20.0)

"""Where the wearer is in the room: the seat transform, the real-table alignment and its
calibration, as loop parts.

Every platform reports poses in its tracking space. A platform that tracks in the room already
(``Capabilities.reference_space == "room"``: the desktop window, headless recordings) is told the
seat with ``set_seat`` and needs nothing more. On a headset (stage space), ``Seating`` carries
every pose of every frame — views, head, hands, controllers, gaze — into the room with one
T_room_stage: the table alignment when the real table was calibrated, else
``core.seating.seat_transform`` from the head pose at session start, recomputed on a recenter
(the runtime's RECENTER event, or ``recenter()`` from the menu) and after every reseat.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from ..core import pose as P
from ..core.seating import seat_transform
from ..platform.base import EventKind
from ..platform.carry import carry_frame
from .frame_loop import FramePart


class Seating(FramePart):
    """Sits the local person (or, for a replay, the viewer at ``seat``) in their seat.

    alignment: a TableAlignment (T_room_stage of a calibrated real table) or None. transform:
    the T_room_stage in use ((position, orientation) or None while it is not known yet; the
    frames are then not drawn, so nobody sees the inside of the table)."""

    def __init__(self, platform, log=print, alignment=None, seat: int | None = None, reseat=None):
        self.platform, self.log = platform, log
        self.alignment = alignment
        self.seat = seat
        self.reseat = reseat
        """reseat(seat) moves this person to another seat (the meeting is rebuilt). With a real table
        calibrated, the wearer is put at the seat nearest to where they really are."""
        self._nearest_done = False
        self.state = None
        self.transform = None
        self.in_room = platform.capabilities.reference_space == "room"

    def _seat(self) -> int:
        return self.state.local if self.seat is None else self.seat

    def on_meeting(self, loop, state) -> None:
        from ..platform.desktop_input import seat_of

        self.state = state
        self.transform = None
        k = self._seat()
        if 0 <= k < len(state.seat_pos):
            self.platform.set_seat(seat_of(replace(state, local=k)))

    def recenter(self) -> None:
        """Sit down again from where the head is now (the menu's recenter, the runtime's event)."""
        self.transform = None

    def on_frame(self, tick) -> None:
        if any(ev.kind == EventKind.RECENTER for ev in tick.frame.events):
            self.recenter()
        if self.alignment is not None:
            T = (self.alignment.position, self.alignment.orientation)
            if not self._nearest_done and tick.frame.head.valid and self.reseat is not None:
                self._sit_nearest(T, tick)
        elif self.in_room:
            return
        else:
            T = self.transform
            k = self._seat()
            if T is None and tick.frame.head.valid and 0 <= k < len(self.state.seat_pos):
                T = self.transform = seat_transform(tick.frame.head.position, tick.frame.head.orientation,
                                                    self.state.seat_pos[k], float(self.state.seat_yaw[k]))
            if T is None:                  # not seated yet (no valid head): draw nothing
                tick.room = replace(tick.frame, should_render=False)
                return
        tick.room = carry_frame(tick.frame, *T)


    def _sit_nearest(self, T, tick) -> None:
        """The real table is calibrated: sit at the free seat nearest to the wearer's real head."""
        from ..core.seating import nearest_seat
        from ..platform.carry import carry_frame

        self._nearest_done = True
        head = carry_frame(tick.frame, *T).head.position
        state = self.state
        taken = None if state.people.present is None else state.people.present.copy()
        if taken is not None:
            taken[state.local] = False
        k = nearest_seat(head, state.seat_pos, taken)
        if k >= 0 and k != state.local:
            self.log(f"table alignment: you are nearest to seat {k}; sitting there")
            self.reseat(k)
            tick.state = self.state


class TableCalibration(FramePart):
    """Collects index-fingertip touches for ``seconds`` (stage space), fits the real table and
    moves the meeting onto it: the fit goes to ``seating.alignment``, the table's height, size
    and orientation to ``source.cfg``, and the meeting is rebuilt. A fit that fails (too few
    touches, a tilted plane) is refused in one line and nothing is saved."""

    def __init__(self, seconds: float, path: Path | None, seating: Seating, source, log=print):
        from ..alignment import TouchCollector

        self.seconds, self.path, self.seating, self.source, self.log = seconds, path, seating, source, log
        self.collector = TouchCollector()
        self.loop = None
        self.t0 = None
        log(f"table calibration: for {seconds:g} s, touch your real table with your index "
            "fingers at its corners and along its edges, holding each touch for half a second")

    def on_meeting(self, loop, state) -> None:
        self.loop = loop

    def on_frame(self, tick) -> None:
        if self.collector is None:
            return
        frame = tick.frame
        self.t0 = frame.predicted_display_time_ns if self.t0 is None else self.t0
        self.collector.add(frame)
        if (frame.predicted_display_time_ns - self.t0) * 1e-9 < self.seconds:
            return
        head = frame.head.position if frame.head.valid else None
        collector, self.collector = self.collector, None
        alignment = finish_calibration(collector, self.path, self.log, head)
        if alignment is not None:
            self.seating.alignment = alignment
            self.seating._nearest_done = False
            self.source.cfg = alignment.apply_to_config(self.source.cfg)
            self.loop.rebuild(self.source.build())
            tick.state = self.loop.driver.state
            tick.room = carry_frame(frame, alignment.position, alignment.orientation)


def finish_calibration(collector, path: Path | None, log, head_stage=None):
    """Fit the collected touches; save the fit (path, default in the user's config directory).
    Returns the TableAlignment, or None (said in one line) when the fit is refused."""
    from ..alignment import default_alignment_path

    try:
        al = collector.fit(head_stage)
    except ValueError as exc:
        log(f"table calibration failed: {exc}; nothing saved")
        return None
    path = Path(path) if path else default_alignment_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(al.to_json() + "\n", encoding="utf-8")
        saved = f"saved to {path}"
    except OSError as exc:
        saved = f"not saved ({exc})"
    log(f"table calibration: real table top at {al.table_height:.3f} m from {al.samples} touches "
        f"(fit rms {1000 * al.rms_m:.1f} mm, {al.size_text()}); the virtual table now lies on it; {saved}")
    return al


def load_alignment(path: Path | None, log):
    """The saved table alignment (None when there is none); a bad file is reported, not fatal."""
    from ..alignment import TableAlignment, default_alignment_path

    path = Path(path) if path else default_alignment_path()
    if not path.exists():
        return None
    try:
        al = TableAlignment.from_json(path.read_text(encoding="utf-8"), str(path))
    except (OSError, ValueError) as exc:
        log(f"table alignment: ignoring {path} ({exc}); run with --calibrate-table to redo it")
        return None
    log(f"table alignment: using {path} (real table top at {al.table_height:.3f} m, "
        f"{al.samples} touches, fit rms {1000 * al.rms_m:.1f} mm)")
    return al

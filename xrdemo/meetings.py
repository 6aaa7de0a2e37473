"""Building a meeting's state: the one place a ``core.scene.MeetingState`` is made from settings.

``meeting_state(cfg)`` is the local meeting a configuration describes (everyone but the local
person scripted); ``meeting_state(cfg, room=RoomShape(...))`` is a networked room's meeting (one
seat per place in the room, this person in theirs, nobody scripted, the present seats marked).
Live runs, headless recordings, networked participants and replays all call it, so a recording
rebuilds exactly the meeting the live run had.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .config import Config
from .core import scene as S
from .core.room import Room, Table


@dataclass(frozen=True)
class RoomShape:
    """What a networked room says about itself: ``capacity`` seats, this person's ``seat``,
    display names by seat ("" for empty seats) and who is present ((capacity,) bool, or None
    for "only this person")."""

    capacity: int
    seat: int
    names: tuple = ()
    present: np.ndarray | None = None


def meeting_state(cfg: Config, room: RoomShape | None = None) -> S.MeetingState:
    """The MeetingState for ``cfg`` (a local meeting), or for a networked ``room``."""
    scripted = None
    if room is not None:
        cfg = replace(cfg, meeting=replace(cfg.meeting, people=room.capacity, seat=room.seat,
                                           names=list(room.names)))
        scripted = np.zeros(room.capacity, bool)
    t = cfg.table
    table = Table(shape=t.shape, radius=t.radius, width=t.width, depth=t.depth, height=t.height)
    space = Room(width=cfg.room.width, depth=cfg.room.depth, height=cfg.room.height)
    m = cfg.meeting
    state = S.make_meeting(m.people, table=table, room=space, local=m.seat, seed=m.seed, names=m.names,
                           scripted=scripted)
    state.torso = cfg.avatars.torso
    if room is not None:
        S.set_present(state, None if room.present is None else np.asarray(room.present, bool))
    return state


class MeetingSource:
    """Builds the meeting state for the current settings, local or for a networked room.

    cfg: the settings (a table calibration replaces ``cfg.table``); room: an object with
    ``room_shape() -> RoomShape`` (``net.session.NetMeeting``) for a networked meeting, else None.
    """

    def __init__(self, cfg: Config, room=None):
        self.cfg, self.room = cfg, room

    def build(self) -> S.MeetingState:
        return meeting_state(self.cfg, None if self.room is None else self.room.room_shape())

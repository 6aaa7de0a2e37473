"""Whom this person whispers with, in a networked room, decided from this person alone.

The whisper rule of ``core.whisper`` pairs heads that come close, from the heads everyone
*reports*; over the network a member who reports a head 5 cm from someone would be chosen as
their partner. Here each side chooses from its own head and the table's fixed seat positions
only: leaning towards a seat chooses that seat. A private whisper (``NetClient.whisper_partner``)
flows only when both people chose each other, so no third member can redirect or suppress it.

``choose_partner(own_head, seat_heads, own_seat, present, current)``: own_head (3,) metres (stage),
seat_heads (N, 3) the heads' rest positions of the table's seats (``core.room.seat_layout``),
present (N,) bool. Returns the seat leaned towards, or None. A lean is the head's offset from
its own seat along the direction to another seat: at least ``ENTER_M`` (0.15 m) to choose it,
and it is kept while above ``EXIT_M`` (0.10 m), so a wobble does not flap; the offset must
point at that seat within ``MAX_ANGLE_DEG`` (30°).
"""

from __future__ import annotations

import math

import numpy as np

ENTER_M = 0.15
EXIT_M = 0.10
MAX_ANGLE_DEG = 30.0


def choose_partner(own_head, seat_heads, own_seat: int, present, current: int | None = None) -> int | None:
    own_head = np.asarray(own_head, float)
    seat_heads = np.asarray(seat_heads, float)
    lean = own_head - seat_heads[own_seat]
    lean[1] = 0.0                                  # leaning is horizontal; standing up is not
    best, best_proj = None, 0.0
    cos_max = math.cos(math.radians(MAX_ANGLE_DEG))
    norm_lean = float(np.linalg.norm(lean))
    if norm_lean < 1e-9:
        return None
    for s in range(len(seat_heads)):
        if s == own_seat or not present[s]:
            continue
        to = seat_heads[s] - seat_heads[own_seat]
        to[1] = 0.0
        dist = float(np.linalg.norm(to))
        if dist < 1e-9:
            continue
        proj = float(lean @ to) / dist
        if proj / norm_lean < cos_max:
            continue
        need = EXIT_M if s == current else ENTER_M
        if proj >= need and proj > best_proj:
            best, best_proj = s, proj
    return best

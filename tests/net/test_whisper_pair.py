"""Whisper partners chosen from one's own lean and the fixed seats only (issue 16, item 2)."""

import numpy as np

from xrdemo.net.whisper_pair import choose_partner
from xrdemo.testing.simclients import _seats


def test_leaning_towards_a_seat_chooses_it_and_reported_heads_play_no_part():
    heads = _seats(6)[0]
    present = np.ones(6, bool)
    me = 0
    assert choose_partner(heads[me], heads, me, present) is None            # sitting straight
    towards_1 = heads[me] + 0.2 * (heads[1] - heads[me]) / np.linalg.norm(heads[1] - heads[me])
    assert choose_partner(towards_1, heads, me, present) == 1
    # the choice takes only the table's seats: nothing anyone reports can enter it
    wobble = heads[me] + 0.12 * (heads[1] - heads[me]) / np.linalg.norm(heads[1] - heads[me])
    assert choose_partner(wobble, heads, me, present) is None               # below 0.15 m to start
    assert choose_partner(wobble, heads, me, present, current=1) == 1       # kept above 0.10 m
    absent = present.copy()
    absent[1] = False
    assert choose_partner(towards_1, heads, me, absent) is None
    up = heads[me] + np.array([0.0, 0.3, 0.0])
    assert choose_partner(up, heads, me, present) is None                   # standing up is no lean

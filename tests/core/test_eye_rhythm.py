"""Saccade and blink rhythm as drawn, measured on the seeded 20-minute tapes (tests/core/conftest.py).

- Saccades: free viewing runs at ~3 saccades/s (Rayner 1998: mean fixations of 260-330 ms in
  scene viewing); fixations on a conversation partner's face are longer. Fixation durations are
  right-skewed with a long tail (no maximum). Measured from the drawn eye direction: onsets of
  angular speed above 20 deg/s (world).
- Blinks: Bentivoglio et al. 1997: ~17/min at rest, ~26/min in conversation. A spontaneous blink
  closes in ~100 ms and reopens in ~100 ms (Stern, Walrath & Goldstein 1984, endogenous blinks);
  durations vary continuously, with a rare long tail (Ousler et al. 2014: 0.2 % of blinks of normal
  subjects last >= 0.5 s). Measured from the drawn lids (expression lid_close_left): a blink is a
  run of closure above 0.5; every blink must show the lids fully closed (>= 0.95) in some frame.
"""

import numpy as np
import pytest

from xrdemo.testing.gaze_stats import blinks, saccade_rhythm


@pytest.fixture(params=["tape6", "tape10"])
def tape(request):
    return request.getfixturevalue(request.param)


def test_saccade_rate_and_long_tailed_intervals(tape):
    m = saccade_rhythm(tape)
    # 1.5-3.3 saccades/s: up to free viewing, down to long conversational fixations (old: 60/min).
    assert 90.0 <= m["per_min"] <= 200.0, m
    # Right-skewed intervals (old: p95/median 1.9 with a hard 1.8 s maximum).
    assert m["p95_over_median"] > 2.5, m
    assert m["at_max"] <= 0.02, m                   # no pile-up at a largest interval


def test_blink_rates_at_rest_and_talking(tape):
    m = blinks(tape)
    assert 13.0 <= m["rate_rest"] <= 21.0, m
    assert 19.0 <= m["rate_talk"] <= 33.0, m
    assert m["rate_talk"] > m["rate_rest"], m


def test_blink_durations_spread_with_a_tail_and_no_bound(tape):
    m = blinks(tape)
    d = m["durations"]
    assert len(d) >= 1500, len(d)
    fps = tape.fps
    # Above half closure lasts half the blink: a median of 0.08-0.16 s is a 0.16-0.32 s blink.
    assert 0.08 <= np.median(d) <= 0.16, np.median(d)
    # A continuous tail, not a wall: the longest well beyond the 95th percentile, few blinks within
    # a frame of the longest (old model: durations clipped at 0.4 s, 4 % at the longest) ...
    assert d.max() >= 1.35 * np.percentile(d, 95), (d.max(), np.percentile(d, 95))
    assert np.mean(d >= d.max() - 1.5 / fps) <= 0.02
    # ... and long blinks rare (>= 0.25 s above half closure is a ~0.5 s blink).
    assert np.mean(d >= 0.25) <= 0.01


def test_every_blink_shows_the_lids_fully_closed_in_a_frame(tape):
    m = blinks(tape)
    # Old model: a third of the blinks never drew closed lids at 60 Hz.
    assert (m["peaks"] >= 0.95).all(), np.sort(m["peaks"])[:10]

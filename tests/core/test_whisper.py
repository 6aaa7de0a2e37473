import numpy as np

from xrdemo.core.whisper import new_whisper, whisper_step


def test_lean_in_hysteresis_never_flaps_with_noisy_distances():
    rng = np.random.default_rng(0)
    fps = 90
    ws = new_whisper(3)
    base = np.array([[0.0, 1.2, 0.0], [0.8, 1.2, 0.0], [-0.8, 1.2, 0.0]])
    states, times = [], []
    for k in range(120 * fps):
        t = k / fps
        # Person 1 drifts between 0.3 and 0.7 m from person 0, with 3 cm tracking noise.
        dist = 0.5 + 0.2 * np.sin(2 * np.pi * t / 20.0) + rng.normal(0, 0.03)
        pos = base.copy()
        pos[1, 0] = dist
        pairs, cue = whisper_step(ws, pos, t)
        states.append(len(pairs) == 1 and tuple(pairs[0]) == (0, 1))
        times.append(t)
        assert len(pairs) <= 1 and 0.0 <= cue.min() and cue.max() <= 1.0
    s = np.array(states)
    flips = np.nonzero(np.diff(s.astype(int)))[0]
    # Six half-periods cross each threshold: one enter and one exit per 20 s cycle, never more.
    assert 10 <= len(flips) <= 12, len(flips)
    assert np.diff(np.array(times)[flips]).min() > 5.0


def test_enters_when_close_and_leaves_when_far_and_cue_follows():
    ws = new_whisper(2)
    far = np.array([[0.0, 1.2, 0.0], [1.0, 1.2, 0.0]])
    close = np.array([[0.0, 1.2, 0.0], [0.4, 1.2, 0.0]])
    between = np.array([[0.0, 1.2, 0.0], [0.5, 1.2, 0.0]])
    pairs, cue = whisper_step(ws, far, 0.0)
    assert len(pairs) == 0
    for k in range(10):
        pairs, cue = whisper_step(ws, close, 0.1 + 0.05 * k)
    assert pairs.tolist() == [[0, 1]]
    for k in range(30):
        pairs, cue = whisper_step(ws, between, 0.2 + k * 0.05)
    assert pairs.tolist() == [[0, 1]] and cue[0] > 0.9            # inside the band: stays
    for k in range(10):
        pairs, cue = whisper_step(ws, far, 2.0 + 0.05 * k)
    assert len(pairs) == 0

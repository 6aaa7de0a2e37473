"""core/visemes.py: the voice -> viseme mapping's contract (pure; espeak tests in tests/audio)."""

import numpy as np
import pytest

from xrdemo.core import expressions as E
from xrdemo.core import visemes as V


def tracker(n=1):
    return V.VisemeTracker(n, 48000, 256 / 48000)


def run(tr, signal):
    frames = np.zeros((tr.n, tr.window))
    out = []
    for i in range(signal.shape[-1] // 256):
        frames[:, :-256] = frames[:, 256:]
        frames[:, -256:] = signal[..., i * 256:(i + 1) * 256]
        out.append(tr.update(frames)[0].copy())          # person 0
    return np.array(out)


def test_silence_is_a_face_at_rest():
    w = run(tracker(), np.zeros(48000))
    assert np.all(w == 0.0)
    assert np.all(V.shown_group(w) == 0) and np.all(V.mouth_closed(w))


def test_weights_are_bounded_and_the_jaw_follows_loudness():
    rng = np.random.default_rng(1)
    t = np.arange(48000) / 48000
    voiced = 0.3 * np.sign(np.sin(2 * np.pi * 130 * t)) * (1 + 0.1 * rng.standard_normal(t.size))
    w = run(tracker(), np.concatenate([voiced, 0.01 * voiced]))
    assert np.all((w >= 0) & (w <= 1)) and np.all(np.isfinite(w))
    loud, quiet = w[60:180, 4].mean(), w[-60:, 4].mean()
    assert loud > 0.05 and quiet < 0.5 * loud


def test_noise_reads_as_f_v():
    """Broadband hiss with no voicing is a fricative: the lower lip tucks."""
    rng = np.random.default_rng(2)
    hiss = np.diff(rng.standard_normal(48001)) * 0.05          # high-tilted noise
    g = V.shown_group(run(tracker(), hiss)[20:])
    assert np.mean(g == E.VISEME_GROUPS.index("fv")) > 0.8


def test_expression_rows_use_the_fixed_columns():
    tr = tracker(2)
    tr.weights[:] = [[0.1, 0.2, 0.3, 0.4, 0.5], [0.0, 0.0, 0.0, 0.0, 1.0]]
    rows = tr.expressions()
    assert rows.shape == (2, E.EXPRESSION_COUNT) and rows.dtype == np.float32
    assert rows[0, E.INDEX["lips_closed"]] == pytest.approx(0.1)
    assert rows[0, E.INDEX["lower_lip_tuck"]] == pytest.approx(0.2)
    assert rows[0, E.INDEX["lip_stretch"]] == pytest.approx(0.3)
    assert rows[0, E.INDEX["lip_funnel"]] == pytest.approx(0.4)
    assert rows[1, E.INDEX["jaw_open"]] == 1.0
    out = np.full((2, E.EXPRESSION_COUNT), 0.7, np.float32)
    tr.expressions(out)
    assert out[0, E.INDEX["smile_left"]] == pytest.approx(0.7)     # other columns untouched


def test_shown_group_and_closed_rules():
    w = np.array([[0.0, 0.0, 0.0, 0.0, 0.04],      # at rest -> closed
                  [0.1, 0.0, 0.6, 0.0, 0.2],       # wide
                  [0.5, 0.0, 0.0, 0.0, 0.3],       # lips closed largest
                  [0.1, 0.0, 0.0, 0.6, 0.05],      # round, but jaw nearly shut -> reads closed
                  [0.1, 0.0, 0.0, 0.2, 0.6]])      # open
    assert V.shown_group(w).tolist() == [0, 2, 0, 3, 4]
    assert V.mouth_closed(w).tolist() == [True, False, True, True, False]


def test_a_model_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="viseme model"):
        V.VisemeTracker(1, 48000, 256 / 48000, (np.zeros((10, 5)), np.zeros(5)))


def test_the_window_scales_with_the_sample_rate():
    assert V.window_length(48000) == 1024 and V.window_length(24000) == 512
    assert V.band_matrix(48000, 1024).sum(axis=0).min() >= 1       # every band has a bin

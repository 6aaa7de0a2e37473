"""core/face_behaviour.py: brows on stressed syllables, a greeting smile, a face never quite still."""

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core.face_behaviour import FaceBehaviour, apply

FPS = 60
BROW = E.INDEX["brow_inner_up"]
SMILE = E.INDEX["smile_left"]


def run(fb, seconds, level=None, beat=None, present=None):
    level = level or (lambda t: np.zeros(fb.n))
    present = present or (lambda t: np.ones(fb.n, bool))
    out = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        out.append(fb.step(t, level(t), None if beat is None else beat(t), present(t)))
    return np.array(out)


def test_a_stressed_beat_lifts_the_brows_then_they_settle():
    fb = FaceBehaviour(2, seed=1)
    beat = lambda t: np.array([1.0 if 1.0 <= t < 1.08 else 0.0, 0.0])
    w = run(fb, 3.0, beat=beat)
    rest = run(FaceBehaviour(2, seed=1), 3.0)
    lift = w[:, 0, BROW] - rest[:, 0, BROW]
    peak = np.argmax(lift) / FPS
    assert 1.0 <= peak <= 1.15 and lift.max() > 0.3
    assert lift[int(1.9 * FPS):].max() < 0.05                     # back down within ~0.8 s
    assert np.abs(w[:, 1, BROW] - rest[:, 1, BROW]).max() < 1e-6   # the other person is untouched


def test_an_energy_onset_from_real_audio_lifts_the_brows_too():
    fb = FaceBehaviour(2)
    level = lambda t: np.array([0.8 if t >= 1.0 else 0.05, 0.3])  # person 1: steady speech
    w = run(fb, 2.0, level=level)
    rest = run(FaceBehaviour(2), 2.0)
    assert (w[:, 0, BROW] - rest[:, 0, BROW])[int(1.0 * FPS):int(1.2 * FPS)].max() > 0.2
    assert (w[:, 1, BROW] - rest[:, 1, BROW])[int(0.5 * FPS):].max() < 0.02   # no onsets, no lifts


def test_someone_joining_is_greeted_with_a_smile():
    fb = FaceBehaviour(3)
    present = lambda t: np.array([True, True, t >= 2.0])
    w = run(fb, 6.0, present=present)
    rest = run(FaceBehaviour(3), 6.0, present=lambda t: np.ones(3, bool))
    smile = w[:, :, SMILE] - rest[:, :, SMILE]
    during = slice(int(2.8 * FPS), int(3.2 * FPS))
    assert smile[during, 0].min() > 0.3 and smile[during, 2].min() > 0.3   # host and newcomer
    assert np.abs(smile[: 2 * FPS, :2]).max() < 1e-6                       # nobody before
    assert np.abs(smile[int(4.1 * FPS):, :]).max() < 1e-6                    # over after 2 s
    assert np.all(w[: 2 * FPS, 2] == 0)                                      # an empty seat has no face


def test_resting_faces_move_a_little_smoothly_and_differently():
    w = run(FaceBehaviour(2, seed=3), 20.0)
    assert np.abs(w).max() < 0.04
    assert w[:, :, BROW].std(axis=0).min() > 0.004                           # not still
    assert np.abs(np.diff(w, axis=0)).max() < 0.003                          # no jumps at 60 Hz
    assert np.abs(w[:, 0] - w[:, 1]).max() > 0.01                            # not in lockstep
    again = run(FaceBehaviour(2, seed=3), 20.0)
    np.testing.assert_array_equal(w, again)                                  # seeded


def test_apply_clips_to_the_weight_range():
    base = np.zeros((1, E.EXPRESSION_COUNT), np.float32)
    layer = np.full((1, E.EXPRESSION_COUNT), -0.2, np.float32)
    layer[0, SMILE] = 1.5
    out = apply(base, layer)
    assert out.min() == 0.0 and out[0, SMILE] == 1.0 and out.dtype == np.float32

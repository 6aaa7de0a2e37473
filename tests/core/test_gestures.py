import itertools

import numpy as np

from xrdemo.core.conversation import conversation_step, new_conversation
from xrdemo.core.gestures import (POSE_NAMES, curls_from_controller, gestures_step, hand_fade_step,
                                  new_gestures)

from presence_sim import seats

B = POSE_NAMES.index("beat")
FLAT = POSE_NAMES.index("flat")
POINT = POSE_NAMES.index("point")


def test_speakers_beat_on_stressed_speech_listeners_rest_sometimes_point():
    n = 6
    pos, q, R = seats(n)
    rng = np.random.default_rng(4)
    cs, gs = new_conversation(n, rng), new_gestures(n, rng)
    fps = 60
    beat_spk, beat_lis, flat_lis, lift_spk, lift_lis = [], [], [], [], []
    points, corr_b, corr_w = 0, [], []
    scripted = np.ones(n, bool)
    for k in range(300 * fps):
        t = k / fps
        c = conversation_step(cs, t)
        g = gestures_step(gs, t, c.speaking, c.energy, c.beat, c.floor, c.floor_changed, pos, -R[:, :, 2],
                          scripted)
        assert np.allclose(g.weights.sum(axis=2), 1.0) and g.weights.min() >= -1e-12
        dom = gs.dominant
        wb = g.weights[..., B][dom]                               # dominant hand per person
        beat_spk.extend(wb[c.speaking])
        beat_lis.extend(wb[~c.speaking])
        flat_lis.extend(g.weights[~c.speaking][..., FLAT].ravel())
        lift_spk.extend(g.lift[dom][c.speaking])
        lift_lis.extend(g.lift[~c.speaking].ravel())
        corr_b.extend(c.beat[c.speaking])
        corr_w.extend(wb[c.speaking])
        if g.pointing.any():
            i, h = np.argwhere(g.pointing)[0]
            d = g.point_dir[i, h]
            tgt = pos[gs.point_target[i, h]] - pos[i]
            assert d @ tgt / np.linalg.norm(tgt) > 0.999
            points += 1
    assert np.mean(beat_spk) > 0.1 and np.max(beat_lis) < 0.05
    assert np.mean(flat_lis) > 0.4
    assert np.mean(lift_spk) > 0.4 > 0.1 > np.mean(lift_lis)
    assert np.corrcoef(corr_b, corr_w)[0, 1] > 0.8             # beats follow stressed syllables
    assert points > 0


def test_controller_curls_in_range_and_monotone():
    vals = np.linspace(0.0, 1.0, 6)
    grid = np.array(list(itertools.product(vals, vals, vals, [0.0, 1.0])))
    curls, spread = curls_from_controller(grid[:, 0], grid[:, 1], grid[:, 2], grid[:, 3])
    assert curls.shape == (len(grid), 5) and spread.shape == (len(grid),)
    assert curls.min() >= 0.0 and curls.max() <= 1.0 and spread.min() >= 0 and spread.max() <= 1
    base = curls_from_controller(grid[:, 0], grid[:, 1], grid[:, 2], grid[:, 3])[0]
    for col in range(4):
        g2 = grid.copy()
        g2[:, col] = np.minimum(g2[:, col] + 0.2, 1.0)
        up, sp_up = curls_from_controller(g2[:, 0], g2[:, 1], g2[:, 2], g2[:, 3])
        assert np.all(up >= base - 1e-12)
        if col == 0:
            assert np.all(sp_up <= spread + 1e-12)
    fist = curls_from_controller([1.0], [1.0], [1.0], [1.0])[0][0]
    open_ = curls_from_controller([0.0], [0.0], [0.0], [0.0])[0][0]
    point = curls_from_controller([1.0], [0.0], [1.0], [0.0])[0][0]
    assert fist.min() > 0.85 and open_.max() < 0.2
    assert point[1] < 0.1 and point[2:].min() > 0.9               # index out, others curled


def test_hands_fade_out_within_0_3_s_of_loss_and_come_back():
    fps = 90
    alpha = np.ones(2)
    hist = []
    for k in range(2 * fps):
        t = k / fps
        tracked = np.array([True, not (0.5 <= t < 1.2)])
        alpha = hand_fade_step(alpha, tracked, 1.0 / fps)
        hist.append((t, alpha.copy()))
    a1 = np.array([h[1][1] for h in hist])
    ts = np.array([h[0] for h in hist])
    assert np.all(np.array([h[1][0] for h in hist]) == 1.0)
    assert np.all(a1[(ts >= 0.5 + 0.3)] [: int(0.4 * fps)] == 0.0)   # gone 0.3 s after loss
    assert a1[np.searchsorted(ts, 0.55)] < 1.0                     # fading, not frozen
    assert a1[-1] == 1.0 and a1[np.searchsorted(ts, 1.2 + 0.2)] == 1.0


def test_controller_curls_make_valid_hands():
    from xrdemo.core import hands

    vals = np.linspace(0.0, 1.0, 5)
    grid = np.array(list(itertools.product(vals, vals, [0.0, 1.0], [0.0, 1.0])))
    curls, spread = curls_from_controller(grid[:, 0], grid[:, 1], grid[:, 2], grid[:, 3])
    joints = hands.hand_from_curls(curls, spread)
    assert joints.shape == (len(grid), 26, 3) and np.isfinite(joints).all()
    bones = np.asarray(hands.BONES)
    lengths = np.linalg.norm(joints[:, bones[:, 1]] - joints[:, bones[:, 0]], axis=2)
    assert np.allclose(lengths, np.asarray(hands.BONE_LENGTHS)[None], atol=1e-6)
    # More grip brings the middle fingertip closer to the wrist (a closing hand, not a bent-back one).
    lo = hands.hand_from_curls(*curls_from_controller([0.0], [0.0], [0.0], [0.0]))
    hi = hands.hand_from_curls(*curls_from_controller([1.0], [0.0], [0.0], [0.0]))
    tip = 15
    assert np.linalg.norm(hi[0, tip] - hi[0, 1]) < np.linalg.norm(lo[0, tip] - lo[0, 1]) - 0.03

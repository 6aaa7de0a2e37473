"""The faster face, body and tag code of the step gives what the plain formulas it replaced gave
(issue 14's speed budget; docs/performance.md). The plain versions are kept here as references."""

import math

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core import pose as P
from xrdemo.core import frame_build as FB
from xrdemo.core import scene as S
from xrdemo.core.avatars import NECK_BASE_IN_HEAD, SPINE_TURN_SHARE, _RADII_SCALE, body_transforms, lap_transforms
from xrdemo.core.face_behaviour import (BROW_ATTACK_S, BROW_LIFT, BROW_RELEASE_S, GREET_S, GREET_SMILE,
                                        ONSET_MIN, ONSET_SLOW_S, FaceBehaviour, _BROW_IN, _BROW_OUT,
                                        _CHEEK, _MICRO_AMP, _MICRO_COLS, _SMILE, apply)


class PlainFaceBehaviour:
    """FaceBehaviour.step as first written (per-column writes, np.clip), on the same seeded sines."""

    def __init__(self, fast: FaceBehaviour):
        self.n = fast.n
        self._freq, self._phase, self._share = fast._freq, fast._phase, fast._share
        self.slow = np.zeros(self.n)
        self.brow = np.zeros(self.n)
        self.greet_t0 = np.full(self.n, -np.inf)
        self.present = None
        self.t_s = None

    def step(self, t_s, level, beat=None, present=None):
        level = np.clip(np.nan_to_num(np.asarray(level, np.float64)), 0.0, 1.0)
        dt = 0.0 if self.t_s is None else max(t_s - self.t_s, 0.0)
        self.t_s = t_s
        k_slow = 1.0 - math.exp(-dt / ONSET_SLOW_S) if dt > 0 else 0.0
        onset = np.clip((level - self.slow - ONSET_MIN) / (1.0 - ONSET_MIN), 0.0, 1.0) * (dt > 0)
        self.slow += k_slow * (level - self.slow)
        pulse = onset if beat is None else np.maximum(onset, np.clip(np.asarray(beat, np.float64), 0, 1))
        goal = BROW_LIFT * pulse
        if dt > 0:
            k = np.where(goal > self.brow, 1.0 - math.exp(-dt / BROW_ATTACK_S), 1.0 - math.exp(-dt / BROW_RELEASE_S))
            self.brow += k * (goal - self.brow)
        here = np.ones(self.n, bool) if present is None else np.asarray(present, bool)
        if self.present is not None and (here & ~self.present).any():
            self.greet_t0[here] = t_s
        self.present = here.copy()
        age = t_s - self.greet_t0
        greeting = (age >= 0) & (age < GREET_S)
        out = np.zeros((self.n, E.EXPRESSION_COUNT), np.float32)
        micro = (self._share * np.sin(2 * math.pi * self._freq * t_s + self._phase)).sum(axis=-1)
        out[:, _MICRO_COLS] = micro * _MICRO_AMP
        out[:, _BROW_IN] += self.brow
        out[:, _BROW_OUT] += 0.7 * self.brow[:, None]
        if greeting.any():
            greet = np.where(greeting, np.sin(np.pi * np.clip(age / GREET_S, 0, 1)) ** 2, 0.0)
            out[:, _SMILE] += (GREET_SMILE * greet)[:, None]
            out[:, _CHEEK] += (0.6 * GREET_SMILE * greet)[:, None]
        out[~here] = 0.0
        return out


def test_face_layer_matches_the_plain_formulas():
    rng = np.random.default_rng(3)
    for n in (1, 5, 16):
        fast = FaceBehaviour(n, seed=n)
        plain = PlainFaceBehaviour(fast)
        t = 0.0
        present = None
        greeted = 0
        for i in range(900):
            t += rng.choice([1 / 60, 1 / 90, 0.0, -0.2], p=[0.6, 0.3, 0.05, 0.05])   # repeats and time going back
            level = rng.random(n) * rng.choice([0.0, 1.5])
            if rng.random() < 0.05:
                level[rng.integers(n)] = np.nan
            beat = None if rng.random() < 0.3 else rng.random(n) * (rng.random(n) < 0.1)
            if rng.random() < 0.03:                  # people leave and come back; sometimes "everyone"
                present = None if rng.random() < 0.3 else rng.random(n) < 0.7
            a = fast.step(t, level, beat, present)
            b = plain.step(t, level, beat, present)
            assert a.dtype == np.float32 and a.shape == b.shape
            assert np.allclose(a, b, atol=2e-7, rtol=0), (n, i, np.abs(a - b).max())
            base = rng.random((n, E.EXPRESSION_COUNT)).astype(np.float32) * 1.2 - 0.1
            assert np.array_equal(apply(base, a), np.clip(base + a, 0.0, 1.0).astype(np.float32))
            greeted += int((np.abs(b[:, _SMILE[0]]) > 0.1).any())
        assert greeted > 0                           # the greeting path ran


def plain_body_transforms(hip, seat_back, head_pos, R_head):
    n = len(hip)
    neck = head_pos + R_head @ NECK_BASE_IN_HEAD
    spine = neck - hip
    length = np.sqrt((spine * spine).sum(axis=1))
    up = spine / length[:, None]
    back = (1.0 - SPINE_TURN_SHARE) * seat_back + SPINE_TURN_SHARE * R_head[:, :, 2]
    rot = np.empty((n, 3, 3))
    rot[:, :, 1] = up
    x = np.cross(up, back)
    x /= np.linalg.norm(x, axis=1)[:, None]
    rot[:, :, 0] = x
    rot[:, :, 2] = np.cross(x, up)
    radii = np.empty((n, 2, 1, 3))
    radii[:] = _RADII_SCALE[:2]
    radii[:, 0, 0, 1] = 0.52 * length
    t = np.empty((n, 3, 4, 4), np.float32)
    t[:, 2] = lap_transforms(hip, seat_back)
    t[:, :2, 3] = (0.0, 0.0, 0.0, 1.0)
    t[:, :2, :3, :3] = rot[:, None] * radii
    t[:, 0, :3, 3] = hip + 0.44 * spine
    t[:, 1, :3, 3] = neck + (0.012 * rot[:, :, 2] - 0.10 * up)
    return t


def test_body_transforms_match_the_plain_formulas():
    rng = np.random.default_rng(9)
    for n in (1, 7, 64):
        yaw = rng.uniform(-np.pi, np.pi, n)
        R_seat = P.quat_to_matrix(P.quat_from_yaw_pitch_roll(yaw))
        hip = rng.normal(size=(n, 3)) + [0.0, 0.6, 0.0]
        head_pos = hip + [0.0, 0.6, -0.1] + 0.1 * rng.normal(size=(n, 3))
        R_head = P.quat_to_matrix(P.normalize(rng.normal(size=(n, 4))))
        a = body_transforms(hip, R_seat[:, :, 2], head_pos, R_head)
        b = plain_body_transforms(hip, R_seat[:, :, 2], head_pos, R_head)
        assert a.dtype == np.float32 and np.allclose(a, b, atol=1e-6, rtol=0)


def test_procedural_expressions_match_the_plain_formulas():
    rng = np.random.default_rng(4)
    n = 11
    smile = rng.uniform(0.08, 0.25, n)
    pf = type("PF", (), {})()
    pf.eyelid, pf.jaw, pf.speaking = rng.random(n), rng.random(n), rng.random(n) < 0.4
    w = np.zeros((n, E.EXPRESSION_COUNT), np.float32)
    w[:, E.INDEX["lid_close_left"]] = w[:, E.INDEX["lid_close_right"]] = pf.eyelid
    w[:, E.INDEX["jaw_open"]] = pf.jaw
    s = smile * (1.0 - 0.6 * pf.speaking)
    w[:, E.INDEX["smile_left"]] = w[:, E.INDEX["smile_right"]] = s
    w[:, E.INDEX["cheek_raise_left"]] = w[:, E.INDEX["cheek_raise_right"]] = 0.5 * s
    assert np.array_equal(S.procedural_expressions(pf, smile), w)


def test_eyes_and_tags_of_the_step_match_the_plain_formulas():
    """The frame's eye rows (gaze in the head, distance to the fixated head) and lit tag colours,
    against the formulas they replaced, over a meeting with people leaving and a local viewer."""
    from xrdemo.core.avatars import eye_gaze

    for n, local in ((4, 0), (9, -1), (16, 3)):
        st = S.make_meeting(n, local=local, seed=n)
        for i in range(400):
            if i == 150 and n > 4:
                S.set_present(st, np.arange(n) % 3 != 1)
            st, fs = S.step(st, None, i * 11_111_111)
            ppl, frame = st.people, st.frame
            hide = -1 if st.draw_local_head else st.local
            drawn = np.arange(n) != hide
            if ppl.present is not None:
                drawn &= ppl.present
            shown = np.flatnonzero(drawn)
            tgt = np.asarray(frame.gaze_target)
            target_d = np.zeros(n)
            has = tgt >= 0
            target_d[has] = np.linalg.norm(ppl.head_pos[tgt[has]] - ppl.head_pos[has], axis=1)
            eyes = eye_gaze(P.quat_to_matrix(ppl.head_rot), ppl.gaze, target_d)[shown]
            assert np.allclose(fs.faces.eyes, eyes, atol=1e-6, rtol=0)
            _, _, base = FB.name_tags(ppl, hide)
            level = np.maximum(np.asarray(ppl.speaking, np.float32)[shown],
                               0.7 * np.asarray(frame.speaking, np.float32)[shown])
            rgb = np.minimum(base[:, :3] * (1.0 + 1.2 * level[:, None]) + 0.05 * level[:, None], S.TAG_MAX_LINEAR)
            wh = np.asarray(ppl.whisper_cue)[shown] > 0.5
            rgb[wh] = 0.5 * rgb[wh] + 0.5 * np.asarray(S.WHISPER_TAG_RGB, np.float32)
            assert np.allclose(fs.labels.colors[:, :3], rgb, atol=1e-6, rtol=0)
            assert np.array_equal(fs.labels.colors[:, 3], base[:, 3])


def test_capsules_of_the_step_match_a_plain_hand_capsules_call():
    """Cached capsule radii and colours (hands fully shown) give what hand_capsules computes from
    the people's arrays, also while hands fade in and out around people leaving and coming."""
    from xrdemo.core import hands as H

    n = 7
    st = S.make_meeting(n, local=1, seed=2)
    faded = 0
    for i in range(300):
        if i in (60, 200):
            S.set_present(st, None if i == 200 else np.arange(n) != 4)
        st, fs = S.step(st, None, i * 11_111_111)
        ppl = st.people
        alpha = ppl.hand_alpha if ppl.present is None else ppl.hand_alpha * ppl.present[:, None]
        faded += int((alpha < 1.0).any())
        rgba = np.ones((2 * n, 4), np.float32)
        rgba[:, :3] = np.repeat(st.derived.skin[:, :3], 2, axis=0)
        plain = H.hand_capsules(ppl.joints.reshape(2 * n, H.JOINT_COUNT, 3), ppl.radii.reshape(2 * n, -1),
                                ppl.valid.reshape(2 * n, -1), rgba, alpha.reshape(-1))
        for name in ("a", "b", "radius", "colors"):
            assert np.array_equal(getattr(fs.capsules, name), getattr(plain, name)), (i, name)
    assert faded > 10

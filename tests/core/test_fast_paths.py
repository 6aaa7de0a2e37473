"""The step's shortcuts give what the plain vectorised formulas give (see docs/performance.md)."""

import copy

import numpy as np

from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core import script
from xrdemo.core.conversation import _envelope, conversation_step, new_conversation
from xrdemo.core.gaze import DEG, blink_closure, gaze_step, new_gaze

from presence_sim import seats


def test_wrist_model_matches_wrist_poses():
    for n, table in ((1, None), (5, None), (16, None), (5, "table"), (16, "table")):
        st = S.make_meeting(n, seed=n)
        table = st.table if table else None
        model = script.WristModel.make(st.script, st.seat_pos, st.seat_rot, st.table.height, table)
        rng = np.random.default_rng(n)
        for t in (0.0, 1.7, 93.25):
            raised = rng.random((n, 2))
            p0, q0 = script.wrist_poses(st.script, st.seat_pos, st.seat_rot, st.table.height, raised, t,
                                        table=table)
            p1, R1 = script.wrist_frames(model, raised, t)
            assert np.allclose(p1, p0, atol=1e-12)
            assert np.allclose(R1, P.quat_to_matrix(q0), atol=1e-12)


def _full_envelope(st, t):
    """The speech envelope over everyone at once (energy, beat), straight from the phrase table."""
    since = t - st.cur_start
    ramp = np.clip(np.minimum(since * (1.0 / 0.06), (st.cur_end - t) * (1.0 / 0.12)), 0.0, 1.0)
    x2 = st.syl_hz * since + st.lead_syllables
    syl = np.cos(x2 * (2.0 * np.pi))
    stressed = np.fmod(np.floor(x2) + st.stress_phase, st.stress_every) < 0.5
    return (ramp * (0.625 - 0.375 * syl[0]) * (0.65 + 0.35 * stressed[0]),
            ramp * (0.5 - 0.5 * syl[1]) * stressed[1])


def test_envelope_of_the_phrase_rows_is_the_whole_envelope():
    cs = new_conversation(7, np.random.default_rng(5))
    nonzero = 0
    for k in range(60 * 40):
        t = k / 60
        conversation_step(cs, t)
        energy, beat = _envelope(cs, t)
        e_ref, b_ref = _full_envelope(cs, t)
        assert np.array_equal(energy, e_ref) and np.array_equal(beat, b_ref)
        nonzero += int((energy > 0).any())
    assert nonzero > 60 * 10        # people did talk


def test_lids_match_the_blink_formula_also_when_time_goes_back():
    n = 5
    pos, q, R = seats(n)
    rng = np.random.default_rng(2)
    cs = new_conversation(n, rng)
    gs = new_gaze(n, rng)
    blinks = 0

    last = [None]

    def frame(t):
        c = conversation_step(cs, t)
        g = gaze_step(gs, t, pos, R, c.speaking, c.floor, c.floor_changed)
        # The frame shows the most closed moment since the last frame (none when time went back).
        t_prev = t if last[0] is None or last[0] > t else last[0]
        last[0] = t
        blink = blink_closure((t_prev - gs.blink_t0) / gs.blink_dur, (t - gs.blink_t0) / gs.blink_dur)
        lowered = np.minimum(np.maximum(-gs.eye[:, 1] - 10.0 * DEG, 0.0) * 0.8, 0.35)
        assert np.allclose(g.eyelid, np.maximum(blink, lowered), rtol=0.0, atol=1e-12)
        assert np.allclose(np.linalg.norm(g.eye_dir, axis=1), 1.0)
        return int((blink > 0.5).any())

    for t in np.arange(0.0, 30.0, 1 / 72):
        blinks += frame(t)
    # Back in time into the newest blink (long over by now): it shows again.
    t_back = float(gs.blink_t0.max()) + 0.05
    blinks_before = blinks
    for t in t_back + np.arange(0.0, 0.1, 1 / 72):
        blinks += frame(t)
    assert blinks_before > 0 and blinks > blinks_before


def test_frame_scene_is_bodies_then_contact_shadows():
    from xrdemo.core.avatars import BODY_SPHERES, body_instances

    st = S.make_meeting(6, local=2, seed=4)
    for i in range(200):
        st, fs = S.step(st, None, i * 22_222_222)
    keep = [0, 1, 3, 4, 5]
    body_t, body_c = body_instances(st.seat_pos, P.quat_to_matrix(st.seat_rot), st.people.head_pos,
                                    P.quat_to_matrix(st.people.head_rot), st.people.color)
    sph = fs.meshes["sphere"]
    b = 5 * BODY_SPHERES
    assert np.allclose(sph.transforms[:b], body_t[keep].reshape(-1, 4, 4), atol=1e-6)
    assert np.allclose(sph.colors[:b], body_c[keep].reshape(-1, 4), atol=1e-6)
    # every other sphere is a contact shadow, flat on the table
    assert np.allclose(sph.transforms[b:, 1, 3], st.table.height + 0.0009, atol=1e-6)
    assert len(sph) - b == int((st.people.contact > 0.05).sum())     # the viewer's own hands too
    cyl = fs.meshes["cylinder"]
    static = st.static_meshes["cylinder"]
    assert np.allclose(cyl.transforms, static.transforms, atol=1e-6)        # no speaking discs
    assert len(fs.labels) == 5 and 2 not in [st.people.names.index(t) for t in fs.labels.texts]
    assert len(fs.faces) == 5


def test_derived_constants_follow_a_replaced_meeting():
    from dataclasses import replace

    st = S.make_meeting(4, seed=1)
    st, _ = S.step(st, None, 0)
    moved = replace(st, seat_pos=st.seat_pos + [0.0, 0.1, 0.0])
    moved, _ = S.step(moved, None, 10_000_000)
    assert moved.derived is not st.derived
    fresh = copy.deepcopy(moved)               # the presence state advances in place: step a copy
    fresh.derived = None
    _, a = S.step(moved, None, 20_000_000)
    _, b = S.step(fresh, None, 20_000_000)
    assert np.array_equal(a.capsules.a, b.capsules.a)
    assert np.array_equal(a.meshes["sphere"].transforms, b.meshes["sphere"].transforms)

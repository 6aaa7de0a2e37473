"""The meeting: seats, the scripted step, determinism and the FrameScene it produces."""

import numpy as np
import pytest

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.core.room import Table, fit_table, seat_layout


@pytest.mark.parametrize("shape", ["round", "rect"])
@pytest.mark.parametrize("n", [1, 2, 6, 16])
def test_seats_surround_the_table_and_face_it(shape, n):
    table = fit_table(Table(shape=shape), n)
    pos, yaw = seat_layout(table, n)
    assert pos.shape == (n, 3) and np.allclose(pos[:, 1], 1.2)
    fwd = P.quat_rotate(P.quat_from_yaw_pitch_roll(yaw), [0, 0, -1])
    to_centre = P.normalize(-pos * [1, 0, 1])
    assert np.all(np.sum(fwd * to_centre, axis=1) > 0.999)
    if n > 1:
        d = np.linalg.norm(pos[:, None] - pos[None], axis=-1) + np.eye(n) * 9
        assert d.min() > 0.6             # nobody sits on top of anyone
    r = np.linalg.norm(pos[:, [0, 2]], axis=1)
    assert np.all(r > (table.radius if shape == "round" else table.depth / 2))


def test_step_is_deterministic_for_a_seed():
    def run(seed):
        st = S.make_meeting(5, seed=seed)
        for i in range(60):
            st, fs = S.step(st, None, i * 50_000_000)
        return st, fs

    a2, fa = run(3)
    b2, fb = run(3)
    assert np.array_equal(a2.people.joints, b2.people.joints)
    assert np.array_equal(a2.people.gaze, b2.people.gaze)
    assert np.array_equal(fa.capsules.a, fb.capsules.a)
    c2, _ = run(4)
    assert not np.allclose(c2.people.gaze, a2.people.gaze)


def test_step_leaves_the_input_people_untouched():
    st = S.make_meeting(4, seed=0)
    st, _ = S.step(st, None, 0)
    before = st.people.joints.copy(), st.people.head_rot.copy()
    S.step(st, None, 100_000_000)
    assert np.array_equal(st.people.joints, before[0]) and np.array_equal(st.people.head_rot, before[1])


def test_hands_rest_on_or_above_the_table_in_front_of_their_owner():
    st = S.make_meeting(8, seed=2)
    for t in np.linspace(0, 30, 31):
        st, _ = S.step(st, None, int(t * 1e9))
        j = st.people.joints                                # (N, 2, 26, 3)
        assert np.all(j[..., 1] > st.table.height - 0.005)  # never through the table top
        assert np.all(j[..., 1] < st.table.height + 0.45)
        owner = st.seat_pos[:, None, None, :]
        assert np.all(np.linalg.norm((j - owner)[..., [0, 2]], axis=-1) < 0.75)
        bl = np.linalg.norm(j[..., H.BONES[:, 1], :] - j[..., H.BONES[:, 0], :], axis=-1)
        assert np.allclose(bl, H.BONE_LENGTHS, atol=1e-9)


def test_speakers_gesture_and_listeners_rest():
    st = S.make_meeting(6, seed=1)
    raised_speaking, raised_listening, frames = 0, 0, 0
    for t in np.arange(0, 40, 0.1):
        st, _ = S.step(st, None, int(t * 1e9))
        wrist_h = st.people.joints[:, :, H.WRIST, 1] - st.table.height
        up = (wrist_h > 0.1).any(axis=1)                  # (N,) someone has a hand raised
        talking = np.asarray(st.frame.speaking, bool)
        raised_speaking += np.sum(up & talking)
        raised_listening += np.sum(up & ~talking)
        frames += 1
    speaker_frames = raised_speaking + raised_listening
    assert speaker_frames > 0 and raised_listening < frames * 6     # some gesture, not all
    assert raised_speaking > 2 * raised_listening      # gestures come mostly from speakers


def test_frame_scene_counts_and_local_inputs():
    st = S.make_meeting(4, local=1)
    head = np.array([0.1, 1.3, 1.0])
    rot = P.quat_from_yaw_pitch_roll(0.3)
    joints = np.full((2, 26, 3), 5.0)
    valid = np.zeros((2, 26), bool)
    valid[1] = True
    st, fs = S.step(st, S.LocalInput(head, rot, joints, valid), 1_000_000_000)
    assert np.allclose(st.people.head_pos[1], head)
    # the local left hand is invalid -> not drawn; the right is drawn where the tracker says
    assert len(fs.capsules) == 7 * H.CAPSULES_PER_HAND
    assert np.sum(np.all(np.isclose(fs.capsules.a, 5.0), axis=1)) == H.CAPSULES_PER_HAND
    # 3 other people's faces are drawn where their heads are, not the viewer's own
    assert len(fs.faces) == 3
    others = [0, 2, 3]
    assert np.allclose(fs.faces.transforms[:, :3, 3], st.people.head_pos[others])
    assert np.allclose(fs.faces.transforms[:, :3, :3], P.quat_to_matrix(st.people.head_rot[others]), atol=1e-6)
    assert np.allclose(fs.faces.expressions, st.people.expressions[others])


def test_bad_meetings_are_refused_clearly():
    with pytest.raises(ValueError, match="between 1 and"):
        S.make_meeting(0)
    with pytest.raises(ValueError, match="seat 7 does not exist"):
        S.make_meeting(3, local=7)
    with pytest.raises(ValueError, match="table shape"):
        Table(shape="oval")


def test_local_microphone_makes_the_local_person_speak_and_others_wait():
    """Talking into the microphone opens the local person's jaw, marks them speaking, and the
    scripted people leave the floor to them (nobody starts a new turn while a real person talks;
    a sentence under way is finished)."""
    def run(mic):
        st = S.make_meeting(5, seed=2, local=0)
        talk, others = 0, 0
        for i in range(900):
            level = mic if 100 <= i < 900 else 0.0
            st, _ = S.step(st, S.LocalInput(head_pos=st.seat_pos[0], head_rot=st.seat_rot[0],
                                            mic_level=level), i * 33_333_333)
            if i >= 160:
                talk += bool(st.frame.speaking[0])
                others += int(np.sum(st.frame.speaking[1:]))
        return talk, others, st

    talk, others_while_talking, st = run(0.9)
    assert talk > 600 and st.people.mouth_open[0] > 0.2
    _, others_silent_mic, _ = run(0.0)
    assert others_while_talking < 0.5 * others_silent_mic


def test_leaning_in_makes_the_neighbour_lean_in_face_you_and_whisper():
    st = S.make_meeting(6, seed=3, local=0)
    for i in range(30):
        st, _ = S.step(st, S.LocalInput(head_pos=st.seat_pos[0], head_rot=st.seat_rot[0]), i * 33_333_333)
    assert st.partner == -1
    lean = st.seat_pos[0] + 0.6 * (st.seat_pos[1] - st.seat_pos[0])
    y, p = P.yaw_pitch_toward(st.seat_pos[1] - lean)
    for i in range(30, 60):
        st, _ = S.step(st, S.LocalInput(head_pos=lean, head_rot=P.quat_from_yaw_pitch_roll(y, p)), i * 33_333_333)
    assert st.partner == 1 and S.speaking_now(st)[1]
    gap = np.linalg.norm(st.people.head_pos[1] - lean)
    assert gap < 0.45                                        # within whisper (intimate) distance
    to_you = (lean - st.people.head_pos[1]) / gap
    assert st.people.gaze[1] @ to_you > 0.99                 # eye contact
    face = P.quat_rotate(st.people.head_rot[1], [0, 0, -1])
    assert face @ to_you > 0.95


def test_people_carry_expression_weights_with_blinks_and_speech():
    from xrdemo.core import expressions as E

    st = S.make_meeting(6, seed=3)
    assert st.people.expressions.shape == (6, E.EXPRESSION_COUNT)
    lids, brows_talk, brows_quiet = [], [], []
    for i in range(600):                                  # 20 s at 30 Hz
        st, _ = S.step(st, None, i * 33_333_333)
        w = st.people.expressions
        assert w.dtype == np.float32 and w.shape == (6, E.EXPRESSION_COUNT)
        assert np.all((w >= 0) & (w <= 1))
        lids.append(w[:, E.INDEX["lid_close_left"]].copy())
        sp = st.frame.speaking
        brows_talk += list(w[sp, E.INDEX["brow_inner_up"]])
        brows_quiet += list(w[~sp, E.INDEX["brow_inner_up"]])
        # blinks close the lids (plus a few per cent of resting movement)
        assert np.abs(w[:, E.INDEX["lid_close_left"]] - st.people.eyelid).max() <= 0.035
    assert np.max(lids) > 0.9                              # somebody blinked fully
    assert np.mean(brows_talk) > np.mean(brows_quiet) + 0.05

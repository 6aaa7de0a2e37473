"""Networked meetings in the core: remote people from RemoteInput, empty seats, no script."""

import numpy as np
import pytest

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import frame_build as FB
from xrdemo.core import scene as S

FRAME = 33_333_333


def _networked(n=6, local=0, present=(0, 2)):
    mask = np.zeros(n, bool)
    mask[list(present)] = True
    return S.make_meeting(n, local=local, scripted=np.zeros(n, bool), present=mask)


def _remote_at(state, seat, level=0.0, look_at=None):
    """A RemoteInput with one person in `seat`, head at the seat, hands posed in front of them."""
    n = len(state.people)
    rem = S.RemoteInput.empty(n)
    rem.present[seat] = True
    rem.head_pos[seat] = state.seat_pos[seat] + [0.0, 0.05, 0.0]
    if look_at is not None:
        y, p = P.yaw_pitch_toward(np.asarray(look_at) - rem.head_pos[seat])
        rem.head_rot[seat] = P.quat_from_yaw_pitch_roll(y, p)
    else:
        rem.head_rot[seat] = state.seat_rot[seat]
    pose = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 1]])       # two library poses
    fwd = P.quat_rotate(state.seat_rot[seat], [0.0, 0.0, -0.35])
    rem.joints[seat] = pose + rem.head_pos[seat] + fwd + [0.0, -0.4, 0.0]
    rem.hand_valid[seat] = True
    rem.level[seat] = level
    return rem


def test_remote_head_and_hands_are_drawn_where_the_network_says():
    st = _networked()
    rem = _remote_at(st, 2)
    for i in range(12):                                 # hands fade in over ~0.3 s
        st, fs = S.step(st, S.LocalInput(remote=rem), i * FRAME)
    assert np.allclose(st.people.head_pos[2], rem.head_pos[2])
    assert np.allclose(st.people.joints[2], rem.joints[2])
    # Capsules: only the remote person's hands (the local hands are untracked here: hidden? no -
    # the local person has no input, so only seat 2 and the local seat can show hands).
    ends = np.concatenate([fs.capsules.a, fs.capsules.b])
    near = np.linalg.norm(ends[:, None] - rem.joints[2].reshape(1, -1, 3), axis=-1).min(axis=1)
    seat0 = np.linalg.norm(ends - st.seat_pos[0], axis=1) < 0.9
    assert np.all((near < 1e-5) | seat0)
    assert (near < 1e-5).sum() > 20


def test_empty_seats_draw_nothing():
    st = _networked(n=6, local=0, present=(0, 2))
    rem = _remote_at(st, 2)
    for i in range(12):
        st, fs = S.step(st, S.LocalInput(remote=rem), i * FRAME)
    assert fs.labels.texts == (st.people.names[2],)            # only the remote person's tag
    spheres = fs.meshes["sphere"].transforms[:, :3, 3]
    assert len(fs.faces) == 1                                  # one head: seat 2's
    assert np.allclose(fs.faces.transforms[0, :3, 3], st.people.head_pos[2])
    for empty in (1, 3, 4, 5):
        assert np.linalg.norm(spheres - st.seat_pos[empty], axis=1).min() > 0.3
    ends = np.concatenate([fs.capsules.a, fs.capsules.b])
    for empty in (1, 3, 4, 5):
        assert np.linalg.norm(ends - st.seat_pos[empty], axis=1).min() > 0.3


def test_someone_joining_appears_and_leaving_disappears():
    st = _networked(n=4, local=0, present=(0,))
    rem = _remote_at(st, 3)
    st, fs = S.step(st, S.LocalInput(remote=rem), 0)
    assert fs.labels.texts == ()
    S.set_present(st, [True, False, False, True])
    for i in range(1, 12):
        st, fs = S.step(st, S.LocalInput(remote=rem), i * FRAME)
    assert fs.labels.texts == (st.people.names[3],)
    S.set_present(st, [True, False, False, False])
    st, fs = S.step(st, S.LocalInput(remote=rem), 12 * FRAME)
    assert fs.labels.texts == ()
    ends = np.concatenate([fs.capsules.a, fs.capsules.b])
    assert len(ends) == 0 or np.linalg.norm(ends - st.seat_pos[3], axis=1).min() > 0.3


def test_a_remote_voice_opens_the_jaw_and_lights_the_speaker():
    st = _networked(n=4, local=0, present=(0, 1))
    quiet = _remote_at(st, 1, level=0.0)
    loud = _remote_at(st, 1, level=0.8)
    for i in range(10):
        st, _ = S.step(st, S.LocalInput(remote=quiet), i * FRAME)
    assert st.people.mouth_open[1] < 0.05
    for i in range(10, 25):
        st, fs = S.step(st, S.LocalInput(remote=loud), i * FRAME)
    assert st.people.mouth_open[1] > 0.2
    assert S.speaking_now(st)[1]
    # The speaker's tag lights up and their face's jaw opens with the voice.
    tag = fs.labels.texts.index(st.people.names[1])
    quiet_tag = fs.labels.texts.index(st.people.names[2]) if st.people.names[2] in fs.labels.texts else None
    assert fs.faces.expressions[tag, 0] > 0.2                   # jaw_open, in the drawn face
    if quiet_tag is not None:
        assert fs.labels.colors[tag, :3].sum() > fs.labels.colors[quiet_tag, :3].sum()


def test_remote_eyes_follow_their_head_to_whoever_they_face():
    st = _networked(n=4, local=0, present=(0, 2, 3))
    st, _ = S.step(st, None, 0)
    local_head = st.seat_pos[0]
    rem = _remote_at(st, 2, look_at=local_head)
    other = _remote_at(st, 3)
    rem.present[3] = True
    rem.head_pos[3], rem.head_rot[3], rem.joints[3] = other.head_pos[3], other.head_rot[3], other.joints[3]
    for i in range(1, 40):
        st, _ = S.step(st, S.LocalInput(head_pos=local_head, head_rot=st.seat_rot[0], remote=rem), i * FRAME)
    to_local = P.normalize(local_head - st.people.head_pos[2])
    assert float(st.people.gaze[2] @ to_local) > 0.97          # eye contact from head pose


def test_no_scripted_person_in_a_networked_meeting():
    st = _networked(n=4, local=0, present=(0, 1, 2, 3))
    for i in range(200):                                      # 6.7 s: scripts would have talked
        st, _ = S.step(st, None, i * FRAME)
        assert not S.speaking_now(st).any()
    # Leaning toward a real neighbour does not make them lean in: they lean by themselves.
    assert S.whisper_partner(st, st.seat_pos[1]) == -1


def test_remote_input_for_the_wrong_meeting_is_refused():
    st = _networked(n=4)
    with pytest.raises(ValueError, match="seats"):
        S.step(st, S.LocalInput(remote=S.RemoteInput.empty(5)), 0)


def test_empty_seats_never_count_in_the_whisper_rule_or_gaze():
    from xrdemo.audio.engine import whisper_gains_from_pairs

    st = _networked(n=16, local=0, present=(0, 2))
    # The person in seat 2 leans 25 cm toward the empty seat 3 (seats are ~0.6 m apart).
    rem = _remote_at(st, 2)
    toward = st.seat_pos[3] - st.seat_pos[2]
    rem.head_pos[2] = st.seat_pos[2] + 0.25 * toward / np.linalg.norm(toward)
    for i in range(20):
        st, _ = S.step(st, S.LocalInput(head_pos=st.seat_pos[0], head_rot=st.seat_rot[0], remote=rem), i * FRAME)
    g = whisper_gains_from_pairs(S.whisper_pairs_now(st), 16)
    assert g[2, 0] == 1.0                       # the local person hears them at full level
    assert st.people.whisper_cue[2] < 0.05      # and no whisper cue for a whisper to nobody
    assert st.frame.gaze_target[2] != 3         # nor eyes resting on an empty chair


def test_remote_face_and_eye_trackers_reach_the_drawn_face():
    from xrdemo.core import expressions as E

    st = _networked()
    rem = _remote_at(st, 2)
    face = E.neutral(6)
    face[2, E.INDEX["smile_left"]] = 0.9
    face[2, E.INDEX["jaw_open"]] = 0.7
    rem.face = face
    rem.face_valid = np.zeros(6, bool)
    rem.face_valid[2] = True
    rem.gaze = np.tile([0.0, 0.0, -1.0], (6, 1))
    rem.gaze[2] = P.normalize(np.array([0.5, 0.0, -1.0]))        # to their right, head frame
    rem.gaze_valid = np.zeros(6, bool)
    rem.gaze_valid[2] = True
    for i in range(5):
        st, fs = S.step(st, S.LocalInput(remote=rem), i * FRAME)
    assert np.allclose(st.people.expressions[2], face[2], atol=1e-6)
    row = list(np.flatnonzero(FB.drawn_heads(st.people, st.local))).index(2)
    assert np.allclose(fs.faces.expressions[row], face[2], atol=1e-6)
    # the drawn eyes look where their tracker says (in the head frame)
    assert np.allclose(fs.faces.eyes[row, :3], rem.gaze[2], atol=1e-5)


def test_local_face_tracker_and_voice_mouths_drive_the_faces():
    from xrdemo.core import expressions as E

    st = S.make_meeting(4, local=0, seed=1)
    st.draw_local_head = True
    face = np.full(E.EXPRESSION_COUNT, np.nan, np.float32)
    face[E.INDEX["brow_down_left"]] = 0.8                      # a tracker that sees the brows only
    mouth = np.zeros((4, 5), np.float32)
    mouth[1, E.VISEME_GROUPS.index("round")] = 0.9
    for i in range(5):
        st, fs = S.step(st, S.LocalInput(face=face, voice_mouth=mouth), i * FRAME)
    w = st.people.expressions
    assert w[0, E.INDEX["brow_down_left"]] == pytest.approx(0.8)
    assert w[1, E.INDEX["lip_funnel"]] == pytest.approx(0.9)
    assert w[2, E.INDEX["lip_funnel"]] == pytest.approx(0.0)

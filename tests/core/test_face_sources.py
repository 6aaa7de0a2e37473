"""core/face_sources.py: tracker > voice > behaviour, per person; remote eye trackers replace inferred eyes."""

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core import face_sources as FS
from xrdemo.core import pose as P
from xrdemo.core.scene import RemoteInput


def baseline(n=3):
    w = np.full((n, E.EXPRESSION_COUNT), 0.1, np.float32)
    w[:, E.INDEX["jaw_open"]] = 0.3
    return w


def test_voice_replaces_the_lips_and_opens_the_jaw_no_less():
    b = baseline()
    mouth = np.array([[0.9, 0.0, 0.0, 0.0, 0.1], [0.0, 0.0, 0.0, 0.8, 0.6], [0, 0, 0, 0, 0]], np.float32)
    w, src = FS.combine_expressions(b, mouth=mouth, mouth_valid=[True, True, False])
    i = E.INDEX
    assert w[0, i["lips_closed"]] == np.float32(0.9) and w[0, i["jaw_open"]] == np.float32(0.3)
    assert w[1, i["lip_funnel"]] == np.float32(0.8) and w[1, i["jaw_open"]] == np.float32(0.6)
    np.testing.assert_array_equal(w[2], b[2])                      # no voice: behaviour stays
    assert w[0, i["smile_left"]] == np.float32(0.1)                # the rest of the face is untouched
    assert src.tolist() == [FS.SOURCE_VOICE, FS.SOURCE_VOICE, FS.SOURCE_BEHAVIOUR]
    assert np.all(b == baseline())                                 # input not modified


def test_trackers_win_and_untracked_columns_keep_the_baseline():
    b = baseline()
    rem = RemoteInput.empty(3)
    rem.present[2] = rem.face_valid[2] = True
    rem.face[2] = 0.75
    rem.present[1] = True                                         # present, but no face tracker
    local = np.full(E.EXPRESSION_COUNT, 0.5, np.float32)
    local[E.INDEX["brow_inner_up"]] = np.nan                      # e.g. HTC: no brows
    mouth = np.full((3, 5), 0.4, np.float32)
    w, src = FS.combine_expressions(b, local=0, local_face=local, remote=rem, mouth=mouth)
    assert np.all(w[2] == np.float32(0.75)) and src[2] == FS.SOURCE_TRACKER
    assert src[1] == FS.SOURCE_VOICE
    assert w[0, E.INDEX["smile_left"]] == np.float32(0.5) and src[0] == FS.SOURCE_TRACKER
    assert w[0, E.INDEX["brow_inner_up"]] == np.float32(0.1)      # NaN column: baseline kept


def test_remote_eye_trackers_replace_inferred_gaze_on_their_heads():
    rem = RemoteInput.empty(2)
    rem.present[:] = True
    rem.gaze_valid[1] = True
    rem.gaze[1] = [0.0, 0.0, -1.0]                                 # straight ahead in the head
    head = np.array([[0, 0, 0, 1.0], P.quat_from_yaw_pitch_roll(np.pi / 2, 0.0)])
    inferred = np.array([[1.0, 0, 0], [1.0, 0, 0]])
    g = FS.remote_gaze(inferred, rem, head)
    np.testing.assert_allclose(g[0], [1, 0, 0])
    np.testing.assert_allclose(g[1], P.quat_rotate(head[1], [0, 0, -1.0]), atol=1e-12)


def test_gaze_in_head_inverts_the_head_rotation():
    q = P.quat_from_yaw_pitch_roll(0.4, -0.2)
    d = P.normalize(np.array([0.3, -0.1, -1.0]))
    np.testing.assert_allclose(P.quat_rotate(q, FS.gaze_in_head(q, d)), d, atol=1e-12)
    assert FS.gaze_in_head(q, None) is None

"""Face and eye tracking travel between two participants (issue 14, items 4a, 5, 6): Ada's headset
(the fake runtime offering XR_FB_face_tracking2 and XR_FB_eye_tracking_social) -> OpenXRPlatform ->
her pose update (gaze + 20 weights) -> a real server -> Bob's session -> his RemoteInput -> the
face and eyes Bob's scene shows for Ada (core/face_sources.py)."""

import time

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core import face_sources as FS
from xrdemo.core import pose as P
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting
from xrdemo.platform import openxr_face as OF
from xrdemo.platform.timeline import NS, Timeline, default_head
from xrdemo.testing.fake_xr import ALL_EXTENSIONS, FACE_EXTENSIONS, FakeConfig, FakeXr, fake_headset


def gaze_fn(t):
    p, q = default_head(t)
    return p, P.quat_mul(q, P.quat_from_yaw_pitch_roll(np.radians(-20.0), np.radians(8.0)))


def face_fn(t):
    w = np.zeros(OF.FB2_COUNT, np.float32)
    w[OF.FB2_NAMES.index("JAW_DROP")] = 0.35 + 0.3 * np.sin(t / NS * 7.0)
    w[OF.FB2_NAMES.index("LIP_CORNER_PULLER_R")] = 0.7
    w[OF.FB2_NAMES.index("OUTER_BROW_RAISER_L")] = 0.9
    return w


def test_face_and_eyes_reach_the_other_participant():
    fx = FakeXr(Timeline(gaze=gaze_fn), FakeConfig(start_ns=10 * NS, extensions=ALL_EXTENSIONS + FACE_EXTENSIONS,
                                                   face_fb2=face_fn))
    headset = fake_headset(fx)
    srv = ServerThread(port=0, timeout_s=1.0).start()
    ada = NetMeeting(f"127.0.0.1:{srv.port}/faces", "Ada", log=lambda *_: None)
    bob = NetMeeting(f"127.0.0.1:{srv.port}/faces", "Bob", log=lambda *_: None)
    try:
        ada.connect()
        bob.connect()
        sent = None
        got = None
        for _ in range(150):
            f = headset.begin_frame()
            headset.end_frame(f, None)
            ada.poll()
            bob.poll()
            if f.face is not None and f.face.valid and f.gaze is not None and f.gaze.valid:
                eye_dir = P.quat_rotate(f.gaze.orientation, [0.0, 0.0, -1.0])
                sent = (f.face.weights.copy(), eye_dir, f.head.orientation.copy(), f.gaze_vergence_deg)
                ada.send_pose(f.head.position, f.head.orientation, np.zeros((2, 26, 3)), [False, False], 0.2, -1,
                              gaze=FS.gaze_in_head(f.head.orientation, eye_dir),
                              vergence_deg=f.gaze_vergence_deg, face=f.face.weights)
            time.sleep(0.02)
            rem = bob.remote_input()
            if rem.present[ada.seat] and rem.face_valid[ada.seat] and rem.gaze_valid[ada.seat]:
                got = rem
                # keep going a little so the playout buffer holds the newest samples
                if sent is not None and _ > 40:
                    break
        assert sent is not None, "the fake headset never reported a tracked face and gaze"
        assert got is not None, "Bob never received Ada's face and gaze"
        seat = ada.seat
        weights, eye_dir, head_q, vergence = sent
        i = E.INDEX
        face = got.face[seat]
        # the constant parts arrive as sent (5-bit steps); the moving jaw within its range
        assert abs(face[i["smile_right"]] - 0.7) <= 0.5 / 31 + 1e-6
        assert abs(face[i["brow_outer_up_left"]] - 0.9) <= 0.5 / 31 + 1e-6
        assert 0.0 <= face[i["jaw_open"]] <= 0.7
        assert abs(got.vergence_deg[seat] - vergence) < 0.6
        # Bob's scene draws Ada with the face and eyes she sent, not with inferred ones
        baseline = E.neutral(len(got.present))
        shown, source = FS.combine_expressions(baseline, remote=got)
        np.testing.assert_array_equal(shown[seat], face)
        assert source[seat] == FS.SOURCE_TRACKER and source[bob.seat] == FS.SOURCE_BEHAVIOUR
        inferred = np.tile([0.0, 0.0, -1.0], (len(got.present), 1))
        gaze = FS.remote_gaze(inferred, got, got.head_rot)
        want = P.quat_rotate(got.head_rot[seat], FS.gaze_in_head(head_q, eye_dir))
        np.testing.assert_allclose(gaze[seat], want, atol=0.02)         # the head-frame gaze, on her head
        head_frame = FS.gaze_in_head(got.head_rot[seat], gaze[seat])
        assert head_frame[0] > 0.25 and head_frame[1] > 0.08            # 20 degrees right, 8 up, as tracked
    finally:
        ada.close()
        bob.close()
        srv.stop()
        headset.shutdown()

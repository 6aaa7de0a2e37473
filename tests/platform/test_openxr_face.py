"""Face and eye trackers (issue 14, items 4a and 5): the mapping onto the 20 expressions, and the
platform reading them from a fake runtime that offers XR_FB_face_tracking2 / XR_HTC_facial_tracking /
XR_FB_eye_tracking_social (the same OpenXRPlatform code that runs on a headset)."""

import numpy as np
import pytest

from xrdemo.core import expressions as E
from xrdemo.core import pose as P
from xrdemo.platform import openxr_face as OF
from xrdemo.platform.timeline import NS, Timeline, default_head
from xrdemo.testing.fake_xr import ALL_EXTENSIONS, FACE_EXTENSIONS, FakeConfig, FakeXr, fake_headset
from xrdemo.testing.fake_xr import run_frames as frames

T0 = 10 * NS


def fb2(**named):
    w = np.zeros(OF.FB2_COUNT, np.float32)
    for name, value in named.items():
        w[OF.FB2_NAMES.index(name)] = value
    return w


SMILE_TALK = fb2(JAW_DROP=0.8, LIP_CORNER_PULLER_L=0.6, LIP_CORNER_PULLER_R=0.5, EYES_CLOSED_R=1.0,
                 INNER_BROW_RAISER_L=0.4, INNER_BROW_RAISER_R=0.6, UPPER_LID_RAISER_L=0.3)


def looking(yaw_deg, pitch_deg):
    """A gaze function: T_stage_gaze turned from the head by yaw (+ left) and pitch (+ up)."""
    def gaze(t):
        p, q = default_head(t)
        turn = P.quat_from_yaw_pitch_roll(np.radians(yaw_deg), np.radians(pitch_deg))
        return p, P.quat_mul(q, turn)
    return gaze


def make(extensions=ALL_EXTENSIONS + FACE_EXTENSIONS, gaze=looking(15, -10), **config):
    fx = FakeXr(Timeline(gaze=gaze), FakeConfig(start_ns=T0, extensions=extensions, **config))
    return fx, fake_headset(fx)


# --- the mappings ------------------------------------------------------------------------------------

def test_fb2_names_follow_pyopenxrs_enum():
    import xr
    assert OF.FB2_NAMES == tuple(m.name for m in xr.FaceExpression2FB if m.name != "COUNT")
    assert OF.HTC_LIP_NAMES == tuple(m.name for m in xr.LipExpressionHTC)
    assert OF.HTC_EYE_NAMES == tuple(m.name for m in xr.EyeExpressionHTC)


def test_fb2_mapping_moves_the_matching_expressions_only():
    w = OF.fb2_to_expressions(SMILE_TALK)
    i = E.INDEX
    assert w[i["jaw_open"]] == pytest.approx(0.8)
    assert w[i["smile_left"]] == pytest.approx(0.6) and w[i["smile_right"]] == pytest.approx(0.5)
    assert w[i["lid_close_right"]] == pytest.approx(1.0) and w[i["lid_close_left"]] == 0
    assert w[i["brow_inner_up"]] == pytest.approx(0.5)
    assert w[i["eye_wide_left"]] == pytest.approx(0.3)
    touched = {"jaw_open", "smile_left", "smile_right", "lid_close_right", "brow_inner_up", "eye_wide_left"}
    assert all(w[i[n]] == 0 for n in E.EXPRESSIONS if n not in touched)
    assert np.all(OF.fb2_to_expressions(np.ones(70)) <= 1.0)           # clipped
    # every one of the 20 is driven by some FB blend shape
    assert np.all(OF.FB2_MATRIX.sum(axis=1) > 0)


def test_htc_mapping_marks_what_it_cannot_see():
    eye = np.zeros(14)
    eye[OF.HTC_EYE_NAMES.index("LEFT_BLINK")] = 1.0
    lip = np.zeros(37)
    lip[OF.HTC_LIP_NAMES.index("JAW_OPEN")] = 0.7
    lip[OF.HTC_LIP_NAMES.index("MOUTH_RAISER_RIGHT")] = 0.4
    w = OF.htc_to_expressions(eye, lip)
    i = E.INDEX
    assert w[i["lid_close_left"]] == pytest.approx(1.0) and w[i["jaw_open"]] == pytest.approx(0.7)
    assert w[i["smile_right"]] == pytest.approx(0.4)
    assert np.all(np.isnan(w[[i[n] for n in OF.HTC_UNTRACKED]]))
    assert set(OF.HTC_UNTRACKED) == {n for n in E.EXPRESSIONS if n.startswith("brow")}
    lips_only = OF.htc_to_expressions(None, lip)                          # the eye tracker is off
    assert np.isnan(lips_only[i["lid_close_left"]]) and lips_only[i["jaw_open"]] == pytest.approx(0.7)


def test_vergence_from_two_eyes():
    ipd, d = 0.064, 0.5
    eyes = np.array([[-ipd / 2, 1.2, 0.0], [ipd / 2, 1.2, 0.0]])
    target = np.array([0.0, 1.2, -d])
    dirs = (target - eyes) / np.linalg.norm(target - eyes, axis=1, keepdims=True)
    pose, vergence = OF.gaze_from_eyes(eyes, dirs)
    assert vergence == pytest.approx(np.degrees(2 * np.arctan(ipd / 2 / d)), abs=1e-6)
    np.testing.assert_allclose(P.quat_rotate(pose.orientation, [0, 0, -1.0]), [0, 0, -1], atol=1e-12)
    np.testing.assert_allclose(pose.position, [0, 1.2, 0], atol=1e-12)


# --- the platform against the fake runtime ---------------------------------------------------------------

def test_the_platform_reports_face_weights_and_per_eye_gaze():
    fx, p = make(face_fb2=lambda t: SMILE_TALK, fixation_m=0.6)
    assert p.capabilities.face_tracking and p.capabilities.eye_gaze
    f = frames(p, 6)[-1]
    assert f.face is not None and f.face.valid and f.face.source == "XR_FB_face_tracking2"
    np.testing.assert_allclose(f.face.weights, OF.fb2_to_expressions(SMILE_TALK), atol=1e-6)
    t = f.predicted_display_time_ns
    want_p, want_q = looking(15, -10)(t)
    got = P.quat_rotate(f.gaze.orientation, [0, 0, -1.0])
    want = P.quat_rotate(want_q, [0, 0, -1.0])
    assert np.degrees(np.arccos(np.clip(got @ want, -1, 1))) < 0.5
    # both eyes fixate 0.6 m along the gaze: the angle between their lines of sight
    eyes, _ = Timeline().eye_poses(t)
    target = want_p + 0.6 * want
    d = (target - eyes) / np.linalg.norm(target - eyes, axis=1, keepdims=True)
    assert f.gaze_vergence_deg == pytest.approx(np.degrees(np.arccos(d[0] @ d[1])), abs=0.01)
    assert 5.5 < f.gaze_vergence_deg < 6.1
    # the frame loop hands the face to the core (LocalInput.face)
    from xrdemo.loop.drivers import local_input
    np.testing.assert_array_equal(local_input(f).face, f.face.weights)
    p.shutdown()
    assert fx.live_handles() == []


def test_htc_face_when_fb_is_not_offered():
    eye, lip = np.zeros(14), np.zeros(37)
    lip[OF.HTC_LIP_NAMES.index("JAW_OPEN")] = 0.5
    exts = ALL_EXTENSIONS + ("XR_HTC_facial_tracking",)
    fx, p = make(extensions=exts, face_htc=lambda t: (eye, lip))
    f = frames(p, 6)[-1]
    assert f.face.valid and f.face.source == "XR_HTC_facial_tracking"
    assert f.face.weights[E.INDEX["jaw_open"]] == pytest.approx(0.5)
    assert np.isnan(f.face.weights[E.INDEX["brow_inner_up"]])
    assert f.gaze_vergence_deg is None                        # no per-eye tracker offered
    p.shutdown()
    assert fx.live_handles() == []


def test_no_face_tracker_says_why_and_reports_nothing():
    fx, p = make(extensions=ALL_EXTENSIONS)
    assert not p.capabilities.face_tracking
    assert "XR_FB_face_tracking2" in p.capabilities.missing["face tracking"]
    assert all(f.face is None for f in frames(p, 5))
    p.shutdown()
    fx, p = make(face_fb2=None)                                # offered, but the headset cannot
    assert "FEATURE_UNSUPPORTED" in p.capabilities.missing["face tracking"]
    p.shutdown()
    assert fx.live_handles() == []

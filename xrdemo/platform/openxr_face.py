"""Face and eye trackers through OpenXR, mapped onto core/expressions.py's 20 weights.

- ``XR_FB_face_tracking2`` (Quest Pro, Quest 3 with audio-driven faces): 70 blend-shape weights
  (``XrFaceExpression2FB``), each 0..1, mapped by ``FB2_MATRIX`` (20 x 70).
- ``XR_HTC_facial_tracking`` (VIVE facial tracker): 14 eye and 37 lip weights, mapped by
  ``HTC_MATRIX`` (20 x 51). It tracks no brows: those columns come back NaN ("not tracked"), so
  the face keeps the behaviour-driven brows there (``core/face_sources.combine_expressions``).
- ``XR_FB_eye_tracking_social``: each eye's gaze pose; their mean direction from the point
  between the eyes is the gaze, the angle between them the vergence.

Trackers are created when the extension is enabled; a runtime whose headset cannot track the face
answers XR_ERROR_FEATURE_UNSUPPORTED, and the feature is then reported missing. pyopenxr's
wrappers for the weight getters pass no buffers, so the weights are read through the raw function
pointers into arrays owned here (as openxr_input does for hand joints).

Left and right in the FB and HTC names are the wearer's own, as in core/expressions.py. Sources for
the names and meanings: the OpenXR 1.1 registry (XrFaceExpression2FB, XrLipExpressionHTC,
XrEyeExpressionHTC); HTC's lip shapes follow SRanipal, where MOUTH_RAISER is the smile and
MOUTH_STRETCHER the sad mouth.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np

from xrdemo.core.expressions import EXPRESSION_COUNT, INDEX
from xrdemo.platform.base import Pose

FB_FACE = "XR_FB_face_tracking2"
HTC_FACE = "XR_HTC_facial_tracking"
FB_EYES = "XR_FB_eye_tracking_social"
EXTENSIONS = {
    FB_FACE: "face tracking (your expressions on your avatar)",
    HTC_FACE: "face tracking on VIVE (your expressions on your avatar)",
    FB_EYES: "eye tracking per eye (where you look, with vergence)",
}
"""Extensions enabled when offered, and what each gives (doctor prints these)."""

FB2_COUNT = 70
HTC_EYE_COUNT, HTC_LIP_COUNT = 14, 37

FB2_NAMES = (
    "BROW_LOWERER_L", "BROW_LOWERER_R", "CHEEK_PUFF_L", "CHEEK_PUFF_R", "CHEEK_RAISER_L", "CHEEK_RAISER_R",
    "CHEEK_SUCK_L", "CHEEK_SUCK_R", "CHIN_RAISER_B", "CHIN_RAISER_T", "DIMPLER_L", "DIMPLER_R",
    "EYES_CLOSED_L", "EYES_CLOSED_R", "EYES_LOOK_DOWN_L", "EYES_LOOK_DOWN_R", "EYES_LOOK_LEFT_L",
    "EYES_LOOK_LEFT_R", "EYES_LOOK_RIGHT_L", "EYES_LOOK_RIGHT_R", "EYES_LOOK_UP_L", "EYES_LOOK_UP_R",
    "INNER_BROW_RAISER_L", "INNER_BROW_RAISER_R", "JAW_DROP", "JAW_SIDEWAYS_LEFT", "JAW_SIDEWAYS_RIGHT",
    "JAW_THRUST", "LID_TIGHTENER_L", "LID_TIGHTENER_R", "LIP_CORNER_DEPRESSOR_L", "LIP_CORNER_DEPRESSOR_R",
    "LIP_CORNER_PULLER_L", "LIP_CORNER_PULLER_R", "LIP_FUNNELER_LB", "LIP_FUNNELER_LT", "LIP_FUNNELER_RB",
    "LIP_FUNNELER_RT", "LIP_PRESSOR_L", "LIP_PRESSOR_R", "LIP_PUCKER_L", "LIP_PUCKER_R", "LIP_STRETCHER_L",
    "LIP_STRETCHER_R", "LIP_SUCK_LB", "LIP_SUCK_LT", "LIP_SUCK_RB", "LIP_SUCK_RT", "LIP_TIGHTENER_L",
    "LIP_TIGHTENER_R", "LIPS_TOWARD", "LOWER_LIP_DEPRESSOR_L", "LOWER_LIP_DEPRESSOR_R", "MOUTH_LEFT",
    "MOUTH_RIGHT", "NOSE_WRINKLER_L", "NOSE_WRINKLER_R", "OUTER_BROW_RAISER_L", "OUTER_BROW_RAISER_R",
    "UPPER_LID_RAISER_L", "UPPER_LID_RAISER_R", "UPPER_LIP_RAISER_L", "UPPER_LIP_RAISER_R",
    "TONGUE_TIP_INTERDENTAL", "TONGUE_TIP_ALVEOLAR", "TONGUE_FRONT_DORSAL_PALATE",
    "TONGUE_MID_DORSAL_PALATE", "TONGUE_BACK_DORSAL_VELAR", "TONGUE_OUT", "TONGUE_RETREAT",
)
"""XrFaceExpression2FB in enum order (0..69)."""

HTC_EYE_NAMES = ("LEFT_BLINK", "LEFT_WIDE", "RIGHT_BLINK", "RIGHT_WIDE", "LEFT_SQUEEZE", "RIGHT_SQUEEZE",
                 "LEFT_DOWN", "RIGHT_DOWN", "LEFT_OUT", "RIGHT_IN", "LEFT_IN", "RIGHT_OUT", "LEFT_UP", "RIGHT_UP")
HTC_LIP_NAMES = (
    "JAW_RIGHT", "JAW_LEFT", "JAW_FORWARD", "JAW_OPEN", "MOUTH_APE_SHAPE", "MOUTH_UPPER_RIGHT",
    "MOUTH_UPPER_LEFT", "MOUTH_LOWER_RIGHT", "MOUTH_LOWER_LEFT", "MOUTH_UPPER_OVERTURN",
    "MOUTH_LOWER_OVERTURN", "MOUTH_POUT", "MOUTH_RAISER_RIGHT", "MOUTH_RAISER_LEFT",
    "MOUTH_STRETCHER_RIGHT", "MOUTH_STRETCHER_LEFT", "CHEEK_PUFF_RIGHT", "CHEEK_PUFF_LEFT", "CHEEK_SUCK",
    "MOUTH_UPPER_UPRIGHT", "MOUTH_UPPER_UPLEFT", "MOUTH_LOWER_DOWNRIGHT", "MOUTH_LOWER_DOWNLEFT",
    "MOUTH_UPPER_INSIDE", "MOUTH_LOWER_INSIDE", "MOUTH_LOWER_OVERLAY", "TONGUE_LONGSTEP1", "TONGUE_LEFT",
    "TONGUE_RIGHT", "TONGUE_UP", "TONGUE_DOWN", "TONGUE_ROLL", "TONGUE_LONGSTEP2", "TONGUE_UPRIGHT_MORPH",
    "TONGUE_UPLEFT_MORPH", "TONGUE_DOWNRIGHT_MORPH", "TONGUE_DOWNLEFT_MORPH",
)
"""XrEyeExpressionHTC (0..13) and XrLipExpressionHTC (0..36) in enum order."""

# Our weight <- sum of (share x tracker weight); the result is clipped to 0..1.
_FB2_RECIPE = {
    "jaw_open": {"JAW_DROP": 1.0},
    "lips_closed": {"LIP_PRESSOR_L": 0.5, "LIP_PRESSOR_R": 0.5, "LIPS_TOWARD": 0.7},
    "lip_funnel": {"LIP_FUNNELER_LB": 0.25, "LIP_FUNNELER_LT": 0.25, "LIP_FUNNELER_RB": 0.25,
                   "LIP_FUNNELER_RT": 0.25},
    "lip_pucker": {"LIP_PUCKER_L": 0.5, "LIP_PUCKER_R": 0.5},
    "lip_stretch": {"LIP_STRETCHER_L": 0.5, "LIP_STRETCHER_R": 0.5},
    "lower_lip_tuck": {"LIP_SUCK_LB": 0.5, "LIP_SUCK_RB": 0.5},
    "smile_left": {"LIP_CORNER_PULLER_L": 1.0},
    "smile_right": {"LIP_CORNER_PULLER_R": 1.0},
    "frown": {"LIP_CORNER_DEPRESSOR_L": 0.5, "LIP_CORNER_DEPRESSOR_R": 0.5},
    "brow_inner_up": {"INNER_BROW_RAISER_L": 0.5, "INNER_BROW_RAISER_R": 0.5},
    "brow_outer_up_left": {"OUTER_BROW_RAISER_L": 1.0},
    "brow_outer_up_right": {"OUTER_BROW_RAISER_R": 1.0},
    "brow_down_left": {"BROW_LOWERER_L": 1.0},
    "brow_down_right": {"BROW_LOWERER_R": 1.0},
    "lid_close_left": {"EYES_CLOSED_L": 1.0, "LID_TIGHTENER_L": 0.3},
    "lid_close_right": {"EYES_CLOSED_R": 1.0, "LID_TIGHTENER_R": 0.3},
    "eye_wide_left": {"UPPER_LID_RAISER_L": 1.0},
    "eye_wide_right": {"UPPER_LID_RAISER_R": 1.0},
    "cheek_raise_left": {"CHEEK_RAISER_L": 1.0},
    "cheek_raise_right": {"CHEEK_RAISER_R": 1.0},
}
_HTC_RECIPE = {          # eye names, then lip names (one input vector of 14 + 37)
    "jaw_open": {"JAW_OPEN": 1.0},
    "lips_closed": {"MOUTH_APE_SHAPE": 1.0, "MOUTH_UPPER_INSIDE": 0.5},
    "lip_funnel": {"MOUTH_UPPER_OVERTURN": 0.5, "MOUTH_LOWER_OVERTURN": 0.5},
    "lip_pucker": {"MOUTH_POUT": 1.0},
    "lip_stretch": {"MOUTH_UPPER_UPRIGHT": 0.25, "MOUTH_UPPER_UPLEFT": 0.25,
                    "MOUTH_LOWER_DOWNRIGHT": 0.25, "MOUTH_LOWER_DOWNLEFT": 0.25},
    "lower_lip_tuck": {"MOUTH_LOWER_INSIDE": 1.0},
    "smile_left": {"MOUTH_RAISER_LEFT": 1.0},
    "smile_right": {"MOUTH_RAISER_RIGHT": 1.0},
    "frown": {"MOUTH_STRETCHER_LEFT": 0.5, "MOUTH_STRETCHER_RIGHT": 0.5},
    "lid_close_left": {"LEFT_BLINK": 1.0, "LEFT_SQUEEZE": 0.3},
    "lid_close_right": {"RIGHT_BLINK": 1.0, "RIGHT_SQUEEZE": 0.3},
    "eye_wide_left": {"LEFT_WIDE": 1.0},
    "eye_wide_right": {"RIGHT_WIDE": 1.0},
    "cheek_raise_left": {"LEFT_SQUEEZE": 0.5},
    "cheek_raise_right": {"RIGHT_SQUEEZE": 0.5},
}
HTC_UNTRACKED = tuple(name for name in INDEX if name not in _HTC_RECIPE)
"""Expressions the HTC tracker cannot see (the brows): NaN in its mapped weights."""


def _matrix(recipe: dict, names: tuple) -> np.ndarray:
    col = {n: i for i, n in enumerate(names)}
    m = np.zeros((EXPRESSION_COUNT, len(names)), np.float32)
    for ours, parts in recipe.items():
        for theirs, share in parts.items():
            m[INDEX[ours], col[theirs]] = share
    return m


FB2_MATRIX = _matrix(_FB2_RECIPE, FB2_NAMES)
"""(20, 70): core/expressions.py weights = clip(FB2_MATRIX @ XrFaceExpression2FB weights, 0, 1)."""
HTC_MATRIX = _matrix(_HTC_RECIPE, HTC_EYE_NAMES + HTC_LIP_NAMES)
"""(20, 51): weights = clip(HTC_MATRIX @ concat(eye (14,), lip (37,))); brows NaN (HTC_UNTRACKED)."""
_HTC_NAN = np.array([INDEX[n] for n in HTC_UNTRACKED])


def fb2_to_expressions(weights: np.ndarray) -> np.ndarray:
    """(20,) float32 0..1 from XR_FB_face_tracking2's (70,) weights."""
    return np.clip(FB2_MATRIX @ np.asarray(weights, np.float32).reshape(FB2_COUNT), 0.0, 1.0)


def htc_to_expressions(eye: np.ndarray | None, lip: np.ndarray | None) -> np.ndarray:
    """(20,) float32 from XR_HTC_facial_tracking's eye (14,) and lip (37,) weights (either may be
    None: not tracked); columns no tracker saw are NaN."""
    x = np.zeros(HTC_EYE_COUNT + HTC_LIP_COUNT, np.float32)
    seen = np.zeros_like(x, bool)
    if eye is not None:
        x[:HTC_EYE_COUNT] = np.asarray(eye, np.float32).reshape(HTC_EYE_COUNT)
        seen[:HTC_EYE_COUNT] = True
    if lip is not None:
        x[HTC_EYE_COUNT:] = np.asarray(lip, np.float32).reshape(HTC_LIP_COUNT)
        seen[HTC_EYE_COUNT:] = True
    out = np.clip(HTC_MATRIX @ x, 0.0, 1.0)
    uses = HTC_MATRIX != 0
    out[~(uses & seen).any(axis=1)] = np.nan            # nothing this frame fed that column
    out[_HTC_NAN] = np.nan
    return out


def gaze_from_eyes(positions: np.ndarray, directions: np.ndarray) -> tuple[Pose, float]:
    """(T_stage_gaze, vergence degrees) from both eyes' positions (2, 3) and unit lines of sight
    (2, 3): origin between the eyes, -Z along the mean direction."""
    d = np.asarray(directions, np.float64)
    mean = d[0] + d[1]
    mean /= np.linalg.norm(mean)
    vergence = math.degrees(math.acos(min(max(float(d[0] @ d[1]), -1.0), 1.0)))
    return Pose(np.asarray(positions, np.float64).mean(axis=0), _quat_looking_along(mean), True), vergence


def _quat_looking_along(d: np.ndarray) -> np.ndarray:
    """Unit quaternion (x, y, z, w) turning -Z onto d (3,) by the shortest arc."""
    f = np.array([0.0, 0.0, -1.0])
    c = float(f @ d)
    if c < -0.999999:
        return np.array([0.0, 1.0, 0.0, 0.0])
    axis = np.cross(f, d)
    q = np.array([axis[0], axis[1], axis[2], 1.0 + c])
    return q / np.linalg.norm(q)


def _direction(xr, pose) -> np.ndarray:
    """-Z of an XrPosef's orientation (the OpenXR convention for a line of sight)."""
    o = pose.orientation
    x, y, z, w = o.x, o.y, o.z, o.w
    return -np.array([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)])


class FaceTracking:
    """The face and per-eye trackers of one session (any may be missing).

    enabled: the instance's enabled extensions. ``missing`` says, per feature, why it is not there.
    ``read_face(t)`` -> (weights (20,) float32, NaN where not tracked) or None;
    ``read_eyes(base_space, t)`` -> (T_base_gaze Pose, vergence degrees) or None.
    """

    def __init__(self, xr, instance, session, enabled):
        self.xr, self.instance, self.session = xr, instance, session
        self.missing: dict[str, str] = {}
        self.fb_face = self.htc_eye = self.htc_lip = self.fb_eyes = None
        self.source = ""
        refused = []                       # face extensions whose tracker the headset refused
        if FB_FACE in enabled:
            self.fb_face = self._create(
                lambda: xr.create_face_tracker2_fb(session, xr.FaceTrackerCreateInfo2FB(
                    face_expression_set=xr.FaceExpressionSet2FB.DEFAULT,
                    requested_data_sources=[int(xr.FaceTrackingDataSource2FB.VISUAL)])), None)
            if self.fb_face is not None:
                self._get_fb = ctypes.cast(xr.get_instance_proc_addr(instance, "xrGetFaceExpressionWeights2FB"),
                                           xr.PFN_xrGetFaceExpressionWeights2FB)
                self._fb_weights = (ctypes.c_float * FB2_COUNT)()
                self._fb_conf = (ctypes.c_float * 2)()
                self.source = FB_FACE
            else:
                refused.append(FB_FACE)
        if HTC_FACE in enabled and self.fb_face is None:
            kinds = xr.FacialTrackingTypeHTC
            self.htc_eye = self._create(lambda: xr.create_facial_tracker_htc(
                session, xr.FacialTrackerCreateInfoHTC(facial_tracking_type=kinds.EYE_DEFAULT)), None)
            self.htc_lip = self._create(lambda: xr.create_facial_tracker_htc(
                session, xr.FacialTrackerCreateInfoHTC(facial_tracking_type=kinds.LIP_DEFAULT)), None)
            if self.htc_eye is not None or self.htc_lip is not None:
                self._get_htc = ctypes.cast(xr.get_instance_proc_addr(instance, "xrGetFacialExpressionsHTC"),
                                            xr.PFN_xrGetFacialExpressionsHTC)
                self._htc_eye_w = (ctypes.c_float * HTC_EYE_COUNT)()
                self._htc_lip_w = (ctypes.c_float * HTC_LIP_COUNT)()
                self.source = HTC_FACE
            else:
                refused.append(HTC_FACE)
        if refused and not self.source:
            self.missing["face tracking"] = ("the headset cannot track the face (XR_ERROR_FEATURE_UNSUPPORTED "
                                             f"from {', '.join(refused)})")
        elif not self.source:
            self.missing["face tracking"] = f"the runtime offers neither {FB_FACE} nor {HTC_FACE}"
        if FB_EYES in enabled:
            self.fb_eyes = self._create(lambda: xr.create_eye_tracker_fb(session, xr.EyeTrackerCreateInfoFB()),
                                        "eye tracking per eye")

    def _create(self, make, feature):
        try:
            return make()
        except self.xr.FeatureUnsupportedError:
            if feature:
                self.missing[feature] = "the headset cannot track it (XR_ERROR_FEATURE_UNSUPPORTED)"
            return None

    @property
    def face(self) -> bool:
        return bool(self.source)

    def read_face(self, t: int) -> np.ndarray | None:
        """Mapped weights (20,) at display time t, or None when the tracker has no valid face now."""
        xr = self.xr
        if self.fb_face is not None:
            out = xr.FaceExpressionWeights2FB(weights=self._fb_weights, confidences=self._fb_conf)
            info = xr.FaceExpressionInfo2FB(time=t)
            result = self._get_fb(self.fb_face, ctypes.byref(info), ctypes.byref(out))
            if int(result) < 0 or not out.is_valid:
                return None
            return fb2_to_expressions(np.ctypeslib.as_array(self._fb_weights))
        if self.source == HTC_FACE:
            eye = self._read_htc(self.htc_eye, self._htc_eye_w, HTC_EYE_COUNT)
            lip = self._read_htc(self.htc_lip, self._htc_lip_w, HTC_LIP_COUNT)
            if eye is None and lip is None:
                return None
            return htc_to_expressions(eye, lip)
        return None

    def _read_htc(self, tracker, buf, count):
        if tracker is None:
            return None
        out = self.xr.FacialExpressionsHTC(expression_weightings=buf)
        result = self._get_htc(tracker, ctypes.byref(out))
        if int(result) < 0 or not out.is_active:
            return None
        return np.ctypeslib.as_array(buf).copy()

    def read_eyes(self, base_space, t: int):
        """(T_base_gaze Pose, vergence degrees) from both eyes at t, or None (no tracker, or an eye
        not valid now)."""
        if self.fb_eyes is None:
            return None
        xr = self.xr
        gazes = xr.get_eye_gazes_fb(self.fb_eyes, xr.EyeGazesInfoFB(base_space=base_space, time=t))
        eyes = [gazes.gaze[0], gazes.gaze[1]]
        if not all(e.is_valid for e in eyes):
            return None
        pos = np.array([[e.gaze_pose.position.x, e.gaze_pose.position.y, e.gaze_pose.position.z] for e in eyes])
        dirs = np.array([_direction(xr, e.gaze_pose) for e in eyes])
        return gaze_from_eyes(pos, dirs / np.linalg.norm(dirs, axis=1, keepdims=True))

    def destroy(self) -> None:
        xr = self.xr
        for handle, destroy in ((self.fb_face, "destroy_face_tracker2_fb"), (self.htc_eye, "destroy_facial_tracker_htc"),
                                (self.htc_lip, "destroy_facial_tracker_htc"), (self.fb_eyes, "destroy_eye_tracker_fb")):
            if handle is not None:
                try:
                    getattr(xr, destroy)(handle)
                except xr.XrException:
                    pass
        self.fb_face = self.htc_eye = self.htc_lip = self.fb_eyes = None

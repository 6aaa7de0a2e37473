"""OpenXR input: controllers through one action set, articulated hands, eye gaze, haptics.

Controllers: the khr/simple and oculus/touch profiles (grip and aim poses, trigger, squeeze,
thumbstick, buttons, haptic output). Hands: XR_EXT_hand_tracking, 26 joints with validity flags;
joints are located through the function pointer with our own joint array (pyopenxr's
``locate_hand_joints_ext`` passes an empty one). Gaze: XR_EXT_eye_gaze_interaction.
"""

from __future__ import annotations

import ctypes

import numpy as np

from xrdemo.platform.base import HAND_JOINT_COUNT, ControllersInput, HandsInput, Pose

HANDS = ("/user/hand/left", "/user/hand/right")
SIMPLE = "/interaction_profiles/khr/simple_controller"
TOUCH = "/interaction_profiles/oculus/touch_controller"
EYE_GAZE_PROFILE = "/interaction_profiles/ext/eye_gaze_interaction"

# action name -> (kind, {profile: [binding suffix per hand]})
_ACTIONS = {
    "grip_pose": ("pose", {SIMPLE: ["input/grip/pose"] * 2, TOUCH: ["input/grip/pose"] * 2}),
    "aim_pose": ("pose", {SIMPLE: ["input/aim/pose"] * 2, TOUCH: ["input/aim/pose"] * 2}),
    "trigger": ("float", {SIMPLE: ["input/select/click"] * 2, TOUCH: ["input/trigger/value"] * 2}),
    "squeeze": ("float", {TOUCH: ["input/squeeze/value"] * 2}),
    "thumbstick": ("vector2", {TOUCH: ["input/thumbstick"] * 2}),
    "thumbstick_touch": ("bool", {TOUCH: ["input/thumbstick/touch"] * 2}),
    "thumbstick_click": ("bool", {TOUCH: ["input/thumbstick/click"] * 2}),
    "primary": ("bool", {TOUCH: ["input/x/click", "input/a/click"]}),
    "secondary": ("bool", {TOUCH: ["input/y/click", "input/b/click"]}),
    "menu": ("bool", {SIMPLE: ["input/menu/click"] * 2, TOUCH: ["input/menu/click", None]}),
    "haptic": ("vibration", {SIMPLE: ["output/haptic"] * 2, TOUCH: ["output/haptic"] * 2}),
}

_VALID = None  # filled lazily: position+orientation valid bits


def check(xr, result) -> None:
    """Raise pyopenxr's typed exception for a raw XrResult (int or xr.Result) that is an error."""
    exc = xr.check_result(xr.Result(int(result)) if not isinstance(result, xr.Result) else result)
    if exc.is_exception():
        raise exc


def pose_arrays(pose) -> tuple[np.ndarray, np.ndarray]:
    """xr.Posef -> position (3,), quaternion (4,) x, y, z, w."""
    p, q = pose.position, pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w])


def location_valid(xr, flags) -> bool:
    bits = int(xr.SpaceLocationFlags.POSITION_VALID_BIT) | int(xr.SpaceLocationFlags.ORIENTATION_VALID_BIT)
    return (int(flags) & bits) == bits


class XrInput:
    """Actions, hand trackers and gaze of one session. Create after the session, before it runs."""

    def __init__(self, xr, instance, session, *, hand_tracking: bool, eye_gaze: bool):
        self.xr = xr
        self.instance = instance
        self.session = session
        self.paths = [xr.string_to_path(instance, h) for h in HANDS]
        self.action_set = xr.create_action_set(instance, xr.ActionSetCreateInfo(
            action_set_name="xrdemo", localized_action_set_name="xrdemo", priority=0))
        kinds = {"pose": xr.ActionType.POSE_INPUT, "float": xr.ActionType.FLOAT_INPUT,
                 "vector2": xr.ActionType.VECTOR2F_INPUT, "bool": xr.ActionType.BOOLEAN_INPUT,
                 "vibration": xr.ActionType.VIBRATION_OUTPUT}
        self.actions = {}
        for name, (kind, _) in _ACTIONS.items():
            self.actions[name] = xr.create_action(self.action_set, xr.ActionCreateInfo(
                action_name=name, action_type=kinds[kind], subaction_paths=self.paths,
                localized_action_name=name.replace("_", " ")))
        self.profiles_bound = []
        for profile in (SIMPLE, TOUCH):
            bindings = []
            for name, (_, per_profile) in _ACTIONS.items():
                for hand, suffix in enumerate(per_profile.get(profile, [])):
                    if suffix:
                        bindings.append(xr.ActionSuggestedBinding(
                            self.actions[name], xr.string_to_path(instance, f"{HANDS[hand]}/{suffix}")))
            try:
                xr.suggest_interaction_profile_bindings(instance, xr.InteractionProfileSuggestedBinding(
                    interaction_profile=xr.string_to_path(instance, profile), suggested_bindings=bindings))
                self.profiles_bound.append(profile)
            except xr.PathUnsupportedError:
                pass   # a runtime without this profile: the other one still works
        self.gaze_action = None
        if eye_gaze:
            self.gaze_action = xr.create_action(self.action_set, xr.ActionCreateInfo(
                action_name="gaze_pose", action_type=xr.ActionType.POSE_INPUT,
                localized_action_name="gaze pose"))
            xr.suggest_interaction_profile_bindings(instance, xr.InteractionProfileSuggestedBinding(
                interaction_profile=xr.string_to_path(instance, EYE_GAZE_PROFILE),
                suggested_bindings=[xr.ActionSuggestedBinding(self.gaze_action, xr.string_to_path(
                    instance, "/user/eyes_ext/input/gaze_ext/pose"))]))
        xr.attach_session_action_sets(session, xr.SessionActionSetsAttachInfo(action_sets=[self.action_set]))
        self.grip_spaces = [self._action_space(self.actions["grip_pose"], p) for p in self.paths]
        self.aim_spaces = [self._action_space(self.actions["aim_pose"], p) for p in self.paths]
        self.gaze_space = self._action_space(self.gaze_action, xr.NULL_PATH) if self.gaze_action else None
        self.hand_trackers = []
        self._locate_joints = None
        if hand_tracking:
            for hand in (xr.HandEXT.LEFT, xr.HandEXT.RIGHT):
                self.hand_trackers.append(xr.create_hand_tracker_ext(session, xr.HandTrackerCreateInfoEXT(
                    hand=hand, hand_joint_set=xr.HandJointSetEXT.DEFAULT)))
            self._locate_joints = ctypes.cast(
                xr.get_instance_proc_addr(instance, "xrLocateHandJointsEXT"), xr.PFN_xrLocateHandJointsEXT)
            self._joint_buffers = [(xr.HandJointLocationEXT * HAND_JOINT_COUNT)() for _ in range(2)]
        self.hands = HandsInput.untracked()
        self.profile = ("", "")

    def _action_space(self, action, subaction_path):
        return self.xr.create_action_space(self.session, self.xr.ActionSpaceCreateInfo(
            action=action, subaction_path=subaction_path))

    # -- per frame ----------------------------------------------------------------------------
    def sync(self, focused: bool) -> bool:
        """xrSyncActions; returns False when input is not ours (session not focused)."""
        xr = self.xr
        try:
            xr.sync_actions(self.session, xr.ActionsSyncInfo(
                active_action_sets=[xr.ActiveActionSet(self.action_set, xr.NULL_PATH)]))
        except xr.SessionNotFocused:
            return False
        return focused

    def refresh_profiles(self) -> tuple[str, str]:
        """Ask the runtime which interaction profile each hand uses now (after a profile event)."""
        names = []
        for p in self.paths:
            state = self.xr.get_current_interaction_profile(self.session, p)
            names.append(self.xr.path_to_string(self.instance, state.interaction_profile)
                         if state.interaction_profile else "")
        self.profile = tuple(names)
        return self.profile

    def _locate(self, space, base, t: int) -> Pose:
        loc = self.xr.locate_space(space, base, t)
        p, q = pose_arrays(loc.pose)
        return Pose(p, q, location_valid(self.xr, loc.location_flags))

    def controllers(self, base_space, t: int, synced: bool) -> ControllersInput:
        xr = self.xr
        c = ControllersInput.idle()
        c.profile = self.profile
        if not synced:
            return c
        for hand, path in enumerate(self.paths):
            def state(name, getter):
                return getter(self.session, xr.ActionStateGetInfo(self.actions[name], path))
            grip_active = state("grip_pose", xr.get_action_state_pose).is_active
            aim_active = state("aim_pose", xr.get_action_state_pose).is_active
            c.active[hand] = bool(grip_active or aim_active)
            if grip_active:
                g = self._locate(self.grip_spaces[hand], base_space, t)
                c.grip_position[hand], c.grip_orientation[hand], c.grip_valid[hand] = g.position, g.orientation, g.valid
            if aim_active:
                a = self._locate(self.aim_spaces[hand], base_space, t)
                c.aim_position[hand], c.aim_orientation[hand], c.aim_valid[hand] = a.position, a.orientation, a.valid
            for name, target in (("trigger", c.trigger), ("squeeze", c.squeeze)):
                s = state(name, xr.get_action_state_float)
                target[hand] = s.current_state if s.is_active else 0.0
            s = state("thumbstick", xr.get_action_state_vector2f)
            if s.is_active:
                c.thumbstick[hand] = (s.current_state.x, s.current_state.y)
            for name in ("thumbstick_touch", "thumbstick_click", "primary", "secondary", "menu"):
                s = state(name, xr.get_action_state_boolean)
                getattr(c, name)[hand] = bool(s.is_active and s.current_state)
        return c

    def hand_joints(self, base_space, t: int, focused: bool) -> HandsInput:
        """Locate both hands at t. Untracked joints keep their last values with valid False."""
        xr = self.xr
        h = self.hands
        if not self.hand_trackers:
            return h
        for hand, tracker in enumerate(self.hand_trackers):
            joints = self._joint_buffers[hand]
            locations = xr.HandJointLocationsEXT(joint_count=HAND_JOINT_COUNT, joint_locations=joints)
            info = xr.HandJointsLocateInfoEXT(base_space=base_space, time=t)
            check(xr, self._locate_joints(tracker, ctypes.byref(info), ctypes.byref(locations)))
            active = bool(locations.is_active) and focused
            h.active[hand] = active
            if not active:
                h.valid[hand] = False
                continue
            arr = np.ctypeslib.as_array(ctypes.cast(joints, ctypes.POINTER(ctypes.c_char)),
                                        shape=(ctypes.sizeof(joints),))
            flags, pos, rot, rad = _unpack_joints(xr, arr)
            bits = int(xr.SpaceLocationFlags.POSITION_VALID_BIT) | int(xr.SpaceLocationFlags.ORIENTATION_VALID_BIT)
            valid = (flags & bits) == bits
            h.valid[hand] = valid
            h.positions[hand][valid] = pos[valid]
            h.orientations[hand][valid] = rot[valid]
            h.radii[hand][valid] = rad[valid]
        return h

    def gaze(self, base_space, t: int, synced: bool) -> Pose | None:
        if self.gaze_space is None:
            return None
        if not synced:
            return Pose()
        s = self.xr.get_action_state_pose(self.session, self.xr.ActionStateGetInfo(self.gaze_action, self.xr.NULL_PATH))
        return self._locate(self.gaze_space, base_space, t) if s.is_active else Pose()

    def haptic(self, hand: int, amplitude: float, duration_s: float, frequency_hz: float | None) -> None:
        xr = self.xr
        vibration = xr.HapticVibration(duration=int(duration_s * 1e9),
                                       frequency=float(frequency_hz or 0.0),  # 0: XR_FREQUENCY_UNSPECIFIED
                                       amplitude=float(np.clip(amplitude, 0.0, 1.0)))
        xr.apply_haptic_feedback(self.session, xr.HapticActionInfo(self.actions["haptic"], self.paths[hand]),
                                 vibration)

    def destroy(self) -> None:
        xr = self.xr
        for tracker in self.hand_trackers:
            xr.destroy_hand_tracker_ext(tracker)
        self.hand_trackers = []
        for space in self.grip_spaces + self.aim_spaces + ([self.gaze_space] if self.gaze_space else []):
            xr.destroy_space(space)
        self.grip_spaces, self.aim_spaces, self.gaze_space = [], [], None
        if self.action_set is not None:
            xr.destroy_action_set(self.action_set)
            self.action_set = None


_JOINT_DTYPE = None


def _unpack_joints(xr, raw: np.ndarray):
    """Raw bytes of 26 XrHandJointLocationEXT -> flags (26,), positions (26,3), quats (26,4), radii (26,)."""
    global _JOINT_DTYPE
    if _JOINT_DTYPE is None:
        size = ctypes.sizeof(xr.HandJointLocationEXT)
        # XrHandJointLocationEXT: uint64 flags; XrPosef {quat x,y,z,w; vec3 x,y,z}; float radius
        _JOINT_DTYPE = np.dtype({"names": ["flags", "q", "p", "r"],
                                 "formats": ["<u8", ("<f4", 4), ("<f4", 3), "<f4"],
                                 "offsets": [0, 8, 24, 36], "itemsize": size})
    rec = raw.view(_JOINT_DTYPE)
    return rec["flags"].astype(np.int64), rec["p"].copy(), rec["q"].copy(), rec["r"].copy()


def _finite(*arrays) -> bool:
    return all(np.isfinite(a).all() for a in arrays)


def sanitize_frame_input(frame) -> None:
    """A pose with any NaN or infinity is not valid: mark it so (in place) and zero its numbers,
    so nothing non-finite reaches the core even where a caller ignores the validity flags."""
    for pose in (frame.head, frame.gaze):
        if pose is not None and not _finite(pose.position, pose.orientation):
            pose.position, pose.orientation, pose.valid = np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]), False
    h = frame.hands
    bad = ~(np.isfinite(h.positions).all(-1) & np.isfinite(h.orientations).all(-1) & np.isfinite(h.radii))
    if bad.any():
        h.valid &= ~bad
        h.positions[bad] = 0.0
        h.orientations[bad] = (0.0, 0.0, 0.0, 1.0)
        h.radii[bad] = 0.01
    c = frame.controllers
    for pos, rot, valid in ((c.grip_position, c.grip_orientation, c.grip_valid),
                            (c.aim_position, c.aim_orientation, c.aim_valid)):
        bad = ~(np.isfinite(pos).all(-1) & np.isfinite(rot).all(-1))
        if bad.any():
            valid &= ~bad
            pos[bad] = 0.0
            rot[bad] = (0.0, 0.0, 0.0, 1.0)

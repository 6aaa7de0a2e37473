"""platform/openxr.py (the code that runs on Quest Link) against a fake pyopenxr runtime that
enforces OpenXR's session state machine and call order."""

import numpy as np
import pytest

from xrdemo.platform.base import EventKind, PlatformUnavailable, SessionState
from xrdemo.testing.fake_xr import ALL_EXTENSIONS, FakeConfig, FakeXr, fake_headset, run_frames
from xrdemo.platform.timeline import NS, ScriptEvent, Timeline, default_controllers

T0 = 10 * NS


def make(timeline=None, **config):
    fx = FakeXr(timeline or Timeline(controllers=default_controllers), FakeConfig(start_ns=T0, **config))
    return fx, fake_headset(fx)


def draw_nothing(i, view, fbo, size):
    pass


def run(p, n, draw=draw_nothing):
    return run_frames(p, n, draw)


def kinds(frames):
    return [e.kind for f in frames for e in f.events]


def test_reaches_focused_and_submits_paced_stereo_frames():
    fx, p = make()
    frames = run(p, 8)
    assert frames[-1].session_state == SessionState.FOCUSED
    assert fx.calls.index("get_opengl_graphics_requirements_khr") < fx.calls.index("create_session")
    times = [s["time"] for s in fx.submitted]
    assert np.all(np.diff(times) == fx.period_ns)
    assert all(s["layers"] == [("projection", 0)] for s in fx.submitted if s["time"] > times[0])
    assert p.capabilities.swapchain_format == "GL_SRGB8_ALPHA8"
    assert p.capabilities.reference_space == "stage"
    p.shutdown()
    assert fx.live_handles() == []


def test_every_pose_is_located_at_the_predicted_display_time():
    fx, p = make()
    frames = run(p, 6)
    rendered = {f.predicted_display_time_ns for f in frames if f.views}
    assert fx.located_times and set(fx.located_times) <= rendered
    f = frames[-1]
    head_p, _ = Timeline().head(f.predicted_display_time_ns)
    np.testing.assert_allclose(f.head.position, head_p, atol=1e-6)
    np.testing.assert_allclose(0.5 * (f.views[0].position + f.views[1].position), head_p, atol=1e-6)


def test_hand_joints_come_through_our_own_joint_array():
    fx, p = make()
    f = run(p, 4)[-1]
    assert p.capabilities.hand_tracking
    assert f.hands.positions.shape == (2, 26, 3) and f.hands.valid.all()
    pos, rot, rad, valid = Timeline().sample_hands(f.predicted_display_time_ns)
    np.testing.assert_allclose(f.hands.positions, pos, atol=1e-5)
    np.testing.assert_allclose(np.abs(np.sum(f.hands.orientations * rot, axis=-1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(f.hands.radii, rad, atol=1e-6)


def test_hand_tracking_loss_invalidates_joints_and_reports_it():
    tl = Timeline(events=[ScriptEvent(T0 + NS // 5, "hand_lost", 0), ScriptEvent(T0 + NS // 2, "hand_found", 0)])
    fx, p = make(tl)
    frames = run(p, 50)
    lost = [f for f in frames if f.session_state == SessionState.FOCUSED and not f.hands.active[0]]
    assert lost and all(not f.hands.valid[0].any() for f in lost)
    assert all(f.hands.valid[1].all() for f in frames if f.session_state == SessionState.FOCUSED)
    assert EventKind.HAND_TRACKING_LOST in kinds(frames) and EventKind.HAND_TRACKING_FOUND in kinds(frames)
    assert frames[-1].hands.valid[0].all()


def test_controllers_poses_values_and_haptics():
    fx, p = make()
    f = run(p, 5)[-1]
    c = default_controllers(f.predicted_display_time_ns)
    assert f.controllers.active.all() and f.controllers.grip_valid.all()
    np.testing.assert_allclose(f.controllers.grip_position, c.grip_position, atol=1e-5)
    np.testing.assert_allclose(f.controllers.trigger, c.trigger, atol=1e-6)
    np.testing.assert_allclose(f.controllers.thumbstick, c.thumbstick, atol=1e-6)
    assert list(f.controllers.thumbstick_touch) == [False, True]
    assert p.haptic_pulse(1, amplitude=0.7, duration_s=0.03)
    assert fx.haptics == [("/user/hand/right", pytest.approx(0.7), 30_000_000)]


def test_focus_loss_makes_input_inactive_and_comes_back():
    tl = Timeline(controllers=default_controllers,
                  events=[ScriptEvent(T0 + NS // 5, "focus_lost"), ScriptEvent(T0 + NS // 2, "focus_gained")])
    fx, p = make(tl)
    frames = run(p, 50)
    visible = [f for f in frames if f.session_state == SessionState.VISIBLE]
    assert visible and all(not f.controllers.active.any() and not f.hands.valid.any() for f in visible)
    assert not p.haptic_pulse(0) or frames[-1].session_state == SessionState.FOCUSED
    assert EventKind.FOCUS_LOST in kinds(frames)
    assert frames[-1].session_state == SessionState.FOCUSED and frames[-1].controllers.active.all()


def test_end_frame_always_follows_begin_frame_even_when_drawing_raises():
    fx, p = make()
    run(p, 3)

    def broken(i, view, fbo, size):
        raise RuntimeError("shader exploded")

    f = p.begin_frame()
    with pytest.raises(RuntimeError, match="shader exploded"):
        p.end_frame(f, broken)
    assert fx.calls[-1] == "end_frame" and fx.submitted[-1]["layers"] == []
    run(p, 3)                                  # the fake raises CallOrderInvalid if anything leaked
    assert fx.submitted[-1]["layers"] == [("projection", 0)]


def test_should_render_false_submits_an_empty_frame_without_drawing():
    fx, p = make()
    drawn = []
    frames = run(p, 4, draw=lambda *a: drawn.append(a))
    not_rendered = [f for f in frames if f.views and not f.should_render]
    assert not_rendered, "the fake's first running frame is SYNCHRONIZED-like (READY)"
    assert len(drawn) == 2 * sum(f.should_render for f in frames)
    assert all(s["layers"] == [] for s in fx.submitted[:len(not_rendered)])


def test_runtime_exit_walks_stopping_to_exiting():
    fx, p = make(Timeline(events=[ScriptEvent(T0 + NS // 5, "exit")]))
    frames = run(p, 30)
    states = [e.detail["state"] for f in frames for e in f.events if e.kind == EventKind.SESSION_STATE]
    assert states[-3:] == [SessionState.STOPPING, SessionState.IDLE, SessionState.EXITING]
    assert "end_session" in fx.calls and frames[-1].exit_requested
    p.shutdown()
    assert fx.live_handles() == []


def test_session_loss_ends_cleanly_and_says_why():
    fx, p = make(Timeline(events=[ScriptEvent(T0 + NS // 5, "loss_pending")]))
    frames = run(p, 30)
    assert frames[-1].exit_requested
    lost = [e for f in frames for e in f.events if e.kind == EventKind.SESSION_LOST]
    assert lost and "lost" in lost[0].message
    p.shutdown()
    assert fx.live_handles() == []


def test_instance_loss_mid_run_ends_the_session():
    fx, p = make(instance_lost_at_ns=T0 + NS // 5)
    frames = run(p, 30)
    assert frames[-1].exit_requested
    assert any(e.kind == EventKind.SESSION_LOST for f in frames for e in f.events)
    p.shutdown()


def test_no_runtime_and_no_headset_are_one_line_reasons():
    with pytest.raises(PlatformUnavailable, match="no OpenXR runtime installed"):
        make(runtime_installed=False)
    with pytest.raises(PlatformUnavailable, match="no headset connected"):
        make(headset_connected=False)
    with pytest.raises(PlatformUnavailable, match="XR_MNDX_egl_enable"):
        make(extensions=("XR_KHR_opengl_enable",))


def test_missing_extensions_turn_features_off_with_reasons():
    exts = ("XR_KHR_opengl_enable", "XR_MNDX_egl_enable")
    fx, p = make(extensions=exts, blend_modes=(1,))
    caps = p.capabilities
    assert not caps.hand_tracking and not caps.passthrough and not caps.eye_gaze
    assert "hand tracking" in caps.missing and "XR_EXT_hand_tracking" in caps.missing["hand tracking"]
    assert "passthrough" in caps.missing
    f = run(p, 4)[-1]
    assert not f.hands.valid.any() and f.gaze is None
    assert not p.set_passthrough(True) and not p.set_refresh_rate(90.0)
    p.shutdown()


def test_headset_without_hand_tracking_says_so():
    fx, p = make(supports_hands=False)
    assert not p.capabilities.hand_tracking
    assert "Developer Runtime Features" in p.capabilities.missing["hand tracking"]


def test_reference_space_fallbacks_keep_the_floor_at_zero():
    for spaces, expect in ((("VIEW", "LOCAL", "LOCAL_FLOOR_EXT"), "local_floor"), (("VIEW", "LOCAL"), "local")):
        fx, p = make(reference_spaces=spaces)
        assert p.capabilities.reference_space == expect
        f = run(p, 4)[-1]
        head_p, _ = Timeline().head(f.predicted_display_time_ns)
        np.testing.assert_allclose(f.head.position, head_p, atol=1e-6)   # LOCAL is 1.2 m up; offset undoes it
        p.shutdown()


def test_refresh_rate_choice_and_runtime_change_event():
    tl = Timeline(events=[ScriptEvent(T0 + NS // 2, "refresh_rate", 120.0)])
    fx, p = make(tl)
    run(p, 3)
    assert p.capabilities.refresh_rates == (72.0, 90.0, 120.0)
    assert p.set_refresh_rate(90.0)
    frames = run(p, 60)
    changes = [e.detail for f in frames for e in f.events if e.kind == EventKind.REFRESH_RATE_CHANGED]
    assert changes[0] == {"from_hz": 72.0, "to_hz": 90.0} and changes[-1]["to_hz"] == 120.0
    assert frames[-1].predicted_display_period_ns == round(NS / 120)


def test_passthrough_toggle_adds_the_layer_first():
    fx, p = make()
    run(p, 3)
    assert p.set_passthrough(True)
    run(p, 1)
    assert [kind for kind, _ in fx.submitted[-1]["layers"]] == ["passthrough", "projection"]
    assert fx.submitted[-1]["layers"][1][1] != 0      # projection blends by its alpha
    assert not p.set_passthrough(False)
    run(p, 1)
    assert fx.submitted[-1]["layers"] == [("projection", 0)]
    p.shutdown()
    assert fx.live_handles() == []


def test_fake_rejects_misuse_with_pyopenxr_errors():
    """The fake is strict: these are the errors a real runtime gives for the same mistakes."""
    fx, p = make()
    run(p, 3)
    xr = fx
    with pytest.raises(xr.CallOrderInvalidError):
        xr.begin_frame(p.session, xr.FrameBeginInfo())          # no xrWaitFrame first
    with pytest.raises(xr.CallOrderInvalidError):
        xr.end_frame(p.session, xr.FrameEndInfo(display_time=fx.submitted[-1]["time"]))
    with pytest.raises(xr.SessionNotStoppingError):
        xr.end_session(p.session)
    with pytest.raises(xr.ActionsetsAlreadyAttachedError):
        xr.attach_session_action_sets(p.session, xr.SessionActionSetsAttachInfo(action_sets=[]))
    with pytest.raises(AttributeError, match="does not implement"):
        xr.create_spatial_anchor_msft
    p.shutdown()

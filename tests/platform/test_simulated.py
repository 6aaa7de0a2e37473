"""The simulated runtime: deterministic, scripted, paced by simulated time (no sleeping)."""

import numpy as np

from xrdemo.platform.base import EventKind, Platform, SessionState
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.timeline import NS, RecordedHands, ScriptEvent, Timeline, default_controllers, default_hands


def run(platform, n):
    frames = []
    for _ in range(n):
        f = platform.begin_frame()
        platform.end_frame(f)
        frames.append(f)
    return frames


def kinds(frames):
    return [e.kind for f in frames for e in f.events]


def test_is_a_platform_and_reaches_focused_with_paced_times():
    p = SimulatedPlatform()
    assert isinstance(p, Platform)
    frames = run(p, 10)
    assert frames[0].session_state == SessionState.FOCUSED
    times = np.array([f.predicted_display_time_ns for f in frames])
    assert np.all(np.diff(times) == round(NS / 72))
    assert all(f.should_render for f in frames)
    assert len(frames[0].views) == 2
    ipd = np.linalg.norm(frames[0].views[1].position - frames[0].views[0].position)
    assert abs(ipd - 0.063) < 1e-6


def test_same_script_same_output():
    a = run(SimulatedPlatform(Timeline(controllers=default_controllers)), 20)
    b = run(SimulatedPlatform(Timeline(controllers=default_controllers)), 20)
    for fa, fb in zip(a, b):
        assert fa.predicted_display_time_ns == fb.predicted_display_time_ns
        np.testing.assert_array_equal(fa.hands.positions, fb.hands.positions)
        np.testing.assert_array_equal(fa.controllers.trigger, fb.controllers.trigger)


def test_hands_move_and_tracking_loss_invalidates_never_freezes():
    t0 = NS
    tl = Timeline(events=[ScriptEvent(t0 + NS // 2, "hand_lost", 1), ScriptEvent(t0 + NS, "hand_found", 1)])
    frames = run(SimulatedPlatform(tl, start_ns=t0), 80)
    assert frames[0].hands.valid.all()
    assert np.abs(frames[30].hands.positions - frames[0].hands.positions).max() > 0.005
    lost = [f for f in frames if not f.hands.active[1]]
    assert lost and all(not f.hands.valid[1].any() for f in lost)
    assert all(f.hands.valid[0].all() for f in frames)
    ev = kinds(frames)
    assert EventKind.HAND_TRACKING_LOST in ev and EventKind.HAND_TRACKING_FOUND in ev
    assert frames[-1].hands.valid.all()


def test_focus_loss_deactivates_input_then_returns():
    t0 = NS
    tl = Timeline(controllers=default_controllers,
                  events=[ScriptEvent(t0 + NS // 10, "focus_lost"), ScriptEvent(t0 + NS // 5, "focus_gained")])
    frames = run(SimulatedPlatform(tl, start_ns=t0), 30)
    unfocused = [f for f in frames if f.session_state == SessionState.VISIBLE]
    assert unfocused
    assert all(not f.controllers.active.any() and not f.hands.valid.any() for f in unfocused)
    assert all(f.should_render for f in unfocused)   # VISIBLE still renders
    assert frames[-1].session_state == SessionState.FOCUSED and frames[-1].controllers.active.all()
    ev = kinds(frames)
    assert ev.index(EventKind.FOCUS_LOST) < len(ev) - 1 - ev[::-1].index(EventKind.FOCUS_GAINED)


def test_loss_pending_and_exit_end_the_session():
    for kind, event in (("loss_pending", EventKind.SESSION_LOST), ("exit", EventKind.EXITING)):
        p = SimulatedPlatform(Timeline(events=[ScriptEvent(NS + NS // 10, kind)]), start_ns=NS)
        frames = run(p, 12)
        assert event in kinds(frames)
        ended = [f for f in frames if f.exit_requested]
        assert ended and not any(f.should_render for f in ended)
        # time stops advancing once the session is over
        assert ended[-1].predicted_display_time_ns == ended[0].predicted_display_time_ns
        p.shutdown()


def test_refresh_rate_change_changes_pacing():
    p = SimulatedPlatform(Timeline(events=[ScriptEvent(NS + NS // 10, "refresh_rate", 120.0)]), start_ns=NS)
    frames = run(p, 20)
    assert EventKind.REFRESH_RATE_CHANGED in kinds(frames)
    assert frames[-1].predicted_display_period_ns == round(NS / 120)
    assert frames[-1].predicted_display_time_ns - frames[-2].predicted_display_time_ns == round(NS / 120)
    assert p.set_refresh_rate(90.0) and not p.set_refresh_rate(61.0)


def test_recorded_hands_replay_between_samples():
    pos0, rot0, rad0 = default_hands(0)
    pos1, rot1, rad1 = default_hands(NS)
    valid = np.ones((2, 2, 26), bool)
    valid[1, 0, :] = False
    rec = RecordedHands(np.array([0, NS]), np.stack([pos0, pos1]), np.stack([rot0, rot1]),
                        np.stack([rad0, rad1]), valid)
    pos, rot, rad, v = rec(NS // 2)
    np.testing.assert_allclose(pos, 0.5 * (pos0 + pos1), atol=1e-9)
    assert not v[0].any() and v[1].all()
    np.testing.assert_allclose(np.linalg.norm(rot, axis=-1), 1.0, atol=1e-9)


def test_draw_called_per_view_with_framebuffer_and_haptics_logged():
    calls = []
    p = SimulatedPlatform(Timeline(controllers=default_controllers), framebuffer_for=lambda i, size: 40 + i)
    f = p.begin_frame()
    p.end_frame(f, lambda i, view, fbo, size: calls.append((i, fbo, size)))
    assert calls == [(0, 40, (320, 240)), (1, 41, (320, 240))]
    assert p.haptic_pulse(1, 0.8, 0.02) and p.haptic_log[-1][1:] == (1, 0.8, 0.02)
    assert p.capabilities.passthrough and p.capabilities.passthrough_mode == "simulated"


def test_end_frame_runs_even_when_draw_raises():
    p = SimulatedPlatform(framebuffer_for=lambda i, size: 1)
    f = p.begin_frame()

    def bad(*a):
        raise ValueError("boom")

    try:
        p.end_frame(f, bad)
    except ValueError:
        pass
    assert p.frames_submitted == 1
    p.end_frame(p.begin_frame())   # the next frame is fine
    assert p.frames_submitted == 2

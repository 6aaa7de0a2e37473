"""The OpenXR platform's frame contract against the unkind fake runtime: derived frames, invalid and
NaN views, late frames, recentring, hands and controllers swapping, passthrough choices."""

import dataclasses

import numpy as np
import pytest

from xrdemo.core import pose as P
from xrdemo.core.frame import View
from xrdemo.platform.base import EventKind, SessionState
from xrdemo.platform.timeline import (
    NS, ScriptEvent, Timeline, default_controllers, seated_off_origin_head, stand_turn_recenter_timeline,
)
from xrdemo.testing.fake_xr import FakeConfig, FakeEglContext, FakeXr, fake_headset, run_frames

T0 = 10 * NS
OPAQUE, ALPHA_BLEND = 1, 3
SOURCE_ALPHA, UNPREMULTIPLIED = 0x1 << 1, 0x1 << 2   # XR_COMPOSITION_LAYER_*_BIT values


def make(timeline=None, **config):
    fx = FakeXr(timeline or Timeline(controllers=default_controllers), FakeConfig(start_ns=T0, **config))
    return fx, fake_headset(fx)


def focused(p, limit=10):
    for _ in range(limit):
        f = p.begin_frame()
        p.end_frame(f, lambda *a: None)
        if f.session_state == SessionState.FOCUSED and f.should_render:
            return f
    raise AssertionError("never focused")


def moved(frame, dx=5.0):
    """A derived frame as the seat transform makes one: a copy with every view moved."""
    views = [View(v.position + np.array([dx, 0.0, 0.0]), v.orientation, v.fov) for v in frame.views]
    return dataclasses.replace(frame, views=views)


def test_a_derived_frame_ends_the_frame_and_the_layer_uses_the_platforms_views():
    fx, p = make()
    focused(p)
    seen = []
    for _ in range(5):                     # before the fix: frame 2 raised "begin_frame called twice"
        f = p.begin_frame()
        p.end_frame(moved(f), lambda i, view, fbo, size: seen.append((view, f.views[i])))
        assert fx.submitted[-1]["time"] == f.predicted_display_time_ns
        assert fx.submitted[-1]["layers"] == [("projection", 0)]
    for got, own in seen:                  # draw gets the platform's view, not the moved copy
        np.testing.assert_array_equal(got.position, own.position)
    assert not fx.frame_open and not fx._in_frame
    p.shutdown()


def test_a_frame_that_is_not_the_open_one_is_refused_after_ending_the_open_one():
    fx, p = make()
    stale = focused(p)
    f = p.begin_frame()
    with pytest.raises(ValueError, match="is open"):
        p.end_frame(stale, lambda *a: None)
    assert fx.submitted[-1]["time"] == f.predicted_display_time_ns and fx.submitted[-1]["layers"] == []
    focused(p)                              # the session carries on
    p.shutdown()


def test_invalid_views_on_the_first_frames_submit_no_projection():
    fx, p = make(invalid_view_frames=4)
    drawn = []
    frames = []
    for _ in range(8):
        f = p.begin_frame()
        p.end_frame(f, lambda *a: drawn.append(a))
        frames.append(f)
    located = [f for f in frames if f.views]
    assert [f.views_valid for f in located][:4] == [False] * 4 and all(f.views_valid for f in located[4:])
    assert not any(f.should_render for f in located[:4])
    assert all(np.isfinite(v.position).all() for f in located for v in f.views)
    assert all(s["layers"] == [] for s in fx.submitted[:4])
    assert fx.submitted[-1]["layers"] == [("projection", 0)]
    p.shutdown()


def test_nan_views_are_not_submitted_and_never_reach_the_app():
    fx, p = make(nan_view_frames=(5,))
    frames = run_frames(p, 8, lambda *a: None)
    bad = [f for f in frames if f.views and not f.views_valid]
    assert len(bad) == 1 and not bad[0].should_render
    assert all(np.isfinite(v.position).all() and np.isfinite(v.orientation).all() for v in bad[0].views)
    i = frames.index(bad[0])
    np.testing.assert_array_equal(bad[0].views[0].position, frames[i - 1].views[0].position)  # last valid
    assert [s["layers"] for s in fx.submitted if s["time"] == bad[0].predicted_display_time_ns] == [[]]
    p.shutdown()


def test_tracking_loss_mid_session_drops_the_projection_until_it_returns():
    tl = Timeline(events=[ScriptEvent(T0 + NS // 5, "tracking_lost"), ScriptEvent(T0 + NS // 2, "tracking_found")])
    fx, p = make(tl)
    frames = run_frames(p, 50, lambda *a: None)
    lost = [f for f in frames if f.views and not f.views_valid]
    assert lost and all(not f.should_render and not f.head.valid for f in lost)
    assert all(T0 + NS // 5 <= f.predicted_display_time_ns < T0 + NS // 2 + NS // 30 for f in lost)
    assert frames[-1].views_valid and frames[-1].should_render
    p.shutdown()


def test_late_frames_skip_a_period_and_poses_follow_the_new_time():
    fx, p = make(late_frames=(5, 6, 9))
    frames = run_frames(p, 12, lambda *a: None)
    times = np.array([f.predicted_display_time_ns for f in frames if f.views])
    steps = np.diff(times)
    assert set(steps) == {fx.period_ns, 2 * fx.period_ns} and (steps == 2 * fx.period_ns).sum() == 3
    assert set(fx.located_times) <= set(times.tolist())
    p.shutdown()


def test_recentre_is_an_event_and_later_poses_are_in_the_new_space():
    tl = stand_turn_recenter_timeline(T0)
    fx, p = make(tl, reference_spaces=("VIEW", "LOCAL", "STAGE"))
    frames = []
    for _ in range(int(5 * 72)):
        f = p.begin_frame()
        p.end_frame(f, lambda *a: None)
        frames.append(f)
    t_re = tl.recenter_times()[0]
    events = [(f, e) for f in frames for e in f.events if e.kind == EventKind.RECENTER]
    assert len(events) == 1, "one recentre event, though both LOCAL and STAGE moved"
    f_re, e = events[0]
    assert e.detail["space"] == "stage" and e.detail["app_space_moved"] and e.detail["pose_valid"]
    assert e.detail["change_time_ns"] == t_re
    head_p, head_q = tl.head(t_re)
    np.testing.assert_allclose(e.detail["position"], [head_p[0], 0.0, head_p[2]], atol=1e-5)
    before = [f for f in frames if f.predicted_display_time_ns < t_re][-1]
    assert abs(before.head.position[0] - head_p[0]) < 0.01        # old stage: the head is off-origin
    after = frames[-1]
    np.testing.assert_allclose(after.head.position[[0, 2]], 0.0, atol=1e-5)   # new origin under the head
    assert abs(float(P.yaw_of(after.head.orientation))) < 1e-4                 # facing the new -Z
    p.shutdown()


def test_a_local_only_recentre_still_asks_to_reseat_the_wearer():
    """Runtimes whose stage is the guardian move only LOCAL on a recentre: the app's stage poses do
    not jump, but the wearer asked to be recentred, so a RECENTER event says so."""
    tl = stand_turn_recenter_timeline(T0)
    fx, p = make(tl, recenter_moves_stage=False)
    frames = []
    for _ in range(int(4 * 72)):
        f = p.begin_frame()
        p.end_frame(f, lambda *a: None)
        frames.append(f)
    events = [e for f in frames for e in f.events if e.kind == EventKind.RECENTER]
    assert len(events) == 1
    e = events[0]
    assert e.detail["space"] == "local" and not e.detail["app_space_moved"] and not e.detail["pose_valid"]
    np.testing.assert_array_equal(e.detail["orientation"], [0.0, 0.0, 0.0, 1.0])
    head_p, _ = tl.head(frames[-1].predicted_display_time_ns)
    np.testing.assert_allclose(frames[-1].head.position, head_p, atol=1e-5)   # stage unchanged
    p.shutdown()


def test_standing_up_and_turning_around_is_seen_in_stage_space():
    tl = stand_turn_recenter_timeline(T0)
    fx, p = make(tl)
    frames = []
    for _ in range(int(3.3 * 72)):             # the recentre comes at 3.5 s
        f = p.begin_frame()
        p.end_frame(f, lambda *a: None)
        frames.append(f)
    first, last = frames[5], frames[-1]
    assert first.head.position[1] < 1.3 and last.head.position[1] > 1.6
    turned = abs(np.angle(np.exp(1j * (P.yaw_of(last.head.orientation) - P.yaw_of(first.head.orientation)))))
    assert turned > np.deg2rad(175)
    p.shutdown()


def test_a_stage_origin_that_is_no_seat():
    fx, p = make(Timeline(head=seated_off_origin_head()))
    f = focused(p)
    assert np.linalg.norm(f.head.position[[0, 2]]) > 1.0 and p.capabilities.reference_space == "stage"
    p.shutdown()


def test_hands_and_controllers_swap_with_profile_events():
    tl = Timeline(controllers=default_controllers, hands_need_free_hands=True,
                  events=[ScriptEvent(T0 + NS // 5, "controllers_off"), ScriptEvent(T0 + NS // 2, "controllers_on")])
    fx, p = make(tl)
    frames = run_frames(p, 50, lambda *a: None)
    profiles = [e.detail for f in frames for e in f.events if e.kind == EventKind.INTERACTION_PROFILE]
    assert profiles == [{"left": "", "right": ""},
                        {"left": "/interaction_profiles/oculus/touch_controller",
                         "right": "/interaction_profiles/oculus/touch_controller"}]
    on = [f for f in frames if f.session_state == SessionState.FOCUSED]
    hands_time = [f for f in on if T0 + NS // 5 < f.predicted_display_time_ns <= T0 + NS // 2]
    assert hands_time and all(f.hands.valid.all() and not f.controllers.active.any() for f in hands_time)
    assert on[-1].controllers.active.all() and not on[-1].hands.active.any()
    assert on[-1].controllers.profile[0].endswith("touch_controller")
    p.shutdown()


@pytest.mark.parametrize("extensions,blend_modes,mode", [
    (("XR_FB_passthrough",), (OPAQUE,), "fb_layer"),
    (("XR_FB_passthrough",), (OPAQUE, ALPHA_BLEND), "fb_layer"),
    ((), (OPAQUE, ALPHA_BLEND), "alpha_blend"),
    ((), (ALPHA_BLEND, OPAQUE), "alpha_blend"),
    ((), (OPAQUE,), ""),
])
def test_passthrough_choice_for_each_runtime(extensions, blend_modes, mode):
    fx, p = make(extensions=("XR_KHR_opengl_enable", "XR_MNDX_egl_enable") + extensions, blend_modes=blend_modes)
    assert p.capabilities.passthrough_mode == mode and p.capabilities.passthrough == bool(mode)
    focused(p)
    assert fx.submitted[-1]["blend"] == OPAQUE          # off: opaque, even where alpha blend comes first
    assert p.set_passthrough(True) == bool(mode)
    focused(p)
    last = fx.submitted[-1]
    if mode == "fb_layer":
        assert [k for k, _ in last["layers"]] == ["passthrough", "projection"] and last["blend"] == OPAQUE
    elif mode == "alpha_blend":
        assert [k for k, _ in last["layers"]] == ["projection"] and last["blend"] == ALPHA_BLEND
    else:
        assert last["layers"] == [("projection", 0)] and "passthrough" in p.capabilities.missing
    if mode:
        assert last["layers"][-1][1] == SOURCE_ALPHA          # premultiplied: no UNPREMULTIPLIED bit
    assert not p.set_passthrough(False)                   # toggles while running
    focused(p)
    assert fx.submitted[-1]["layers"] == [("projection", 0)] and fx.submitted[-1]["blend"] == OPAQUE
    assert p.set_passthrough(True) == bool(mode)          # and back on
    focused(p)
    if mode == "fb_layer":
        assert [k for k, _ in fx.submitted[-1]["layers"]] == ["passthrough", "projection"]
    p.shutdown()
    assert fx.live_handles() == []


def test_the_hidden_windows_messages_are_pumped_every_frame():
    class PumpedContext(FakeEglContext):
        pumped = 0

        def pump_events(self):
            PumpedContext.pumped += 1

    fx = FakeXr(Timeline(), FakeConfig(start_ns=T0))
    p = fake_headset(fx, PumpedContext())
    for _ in range(6):
        p.end_frame(p.begin_frame(), None)
    assert PumpedContext.pumped == 6
    p.shutdown()

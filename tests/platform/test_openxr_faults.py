"""Issue 13 item 4/5: an OpenXR runtime that goes away (Quest Link's cable, a crash) from ANY call
ends the session cleanly: a SESSION_LOST event and exit_requested, the begun frame still ended,
never a traceback. The fake runtime raises each kind of loss from each call the platform makes."""

import dataclasses
import traceback

import pytest

from xrdemo.platform.base import EventKind, SessionState
from xrdemo.platform.timeline import NS, ScriptEvent, Timeline, default_controllers
from xrdemo.testing.fake_xr import FAULT_CALLS, FakeConfig, FakeXr, fake_headset

T0 = 10 * NS
AT = T0 + NS // 7          # faults fire at the first such call from here on
SHUTDOWN_CALLS = ("request_exit_session", "end_session")
FRAME_CALLS = [c for c in FAULT_CALLS if c not in SHUTDOWN_CALLS]
CASES = [(call, kind) for call in FRAME_CALLS for kind in ("loss_pending", "session_lost", "instance_lost")]
CASES.append(("wait_swapchain_image", "timeout"))
IN_FRAME = ("begin_frame", "locate_views", "locate_space", "sync_actions", "get_action_state_pose",
            "get_action_state_float", "get_action_state_vector2f", "get_action_state_boolean",
            "locate_hand_joints", "acquire_swapchain_image", "wait_swapchain_image", "release_swapchain_image")
"""Calls made between xrBeginFrame and xrEndFrame."""


def make(fault, **config):
    # controllers put down and picked up after AT: the interaction-profile event makes the
    # platform ask xrGetCurrentInteractionProfile
    tl = Timeline(controllers=default_controllers,
                  events=[ScriptEvent(AT + NS // 20, "controllers_off"), ScriptEvent(AT + NS // 10, "controllers_on")])
    fx = FakeXr(tl, FakeConfig(start_ns=T0, fault=fault, **config))
    logged = []
    p = fake_headset(fx, log=logged.append)
    return fx, p, logged


def draw_nothing(i, view, fbo, size):
    pass


def drive(p, n=60):
    """What an app does each frame, touching every call the platform can make; a copy of the
    frame is passed back, as the table alignment and the seat transform do."""
    frames = []
    for i in range(n):
        f = p.begin_frame()
        frames.append(f)
        p.end_frame(dataclasses.replace(f, views=list(f.views)), draw_nothing)
        if f.session_state == SessionState.FOCUSED and f.predicted_display_time_ns >= AT:
            p.haptic_pulse(i % 2, 0.3, 0.01)
            p.set_passthrough(i % 2 == 0)
            if i % 5 == 0:
                p.set_refresh_rate(90.0 if i % 10 else 72.0)
        if f.exit_requested:
            break
    return frames


@pytest.mark.parametrize("call,kind", CASES, ids=[f"{c}-{k}" for c, k in CASES])
def test_loss_from_any_call_ends_the_session_cleanly(call, kind):
    fx, p, logged = make((call, kind, AT))
    try:
        frames = drive(p)
    except Exception:
        pytest.fail(f"{call} {kind} escaped as a traceback:\n{traceback.format_exc()}")
    assert fx.fault_fired == f"{call} {kind}", f"the driver never reached {call} after the fault time"
    assert frames[-1].exit_requested and not frames[-1].should_render
    lost = [e for f in frames for e in f.events if e.kind == EventKind.SESSION_LOST]
    assert len(lost) == 1, [e.message for e in lost]
    if kind == "loss_pending" and call in ("poll_event", "create_passthrough_fb", "create_passthrough_layer_fb"):
        # reported by the LOSS_PENDING event or the next call: creation keeps its handle (a
        # qualified success returns there), and poll_event is not a session call
        assert "lost" in lost[0].message
    else:                                      # the message names the call that reported it
        named = "hand_joints" if call == "locate_hand_joints" else call
        assert named in lost[0].message, lost[0].message
    assert not fx.frame_open, "a begun frame was never ended"
    if kind == "loss_pending":
        assert not fx._in_frame, "the frame begun before the loss was not really ended"
        if call in IN_FRAME:
            assert fx.submitted[-1]["layers"] == [], "a frame the loss interrupted must carry no layers"
    # the session stays over: more frames are idle, nothing raises
    more = drive(p, 3)
    assert all(f.exit_requested and not f.views for f in more)
    p.shutdown()
    p.shutdown()
    assert fx.live_handles() == []
    assert not any("Traceback" in line for line in logged)


@pytest.mark.parametrize("call", SHUTDOWN_CALLS)
@pytest.mark.parametrize("kind", ("loss_pending", "session_lost", "instance_lost"))
def test_loss_while_shutting_down_still_frees_everything(call, kind):
    fx, p, _ = make((call, kind, T0))
    frames = drive(p, 6)
    assert frames[-1].session_state == SessionState.FOCUSED
    p.shutdown()
    assert fx.fault_fired == f"{call} {kind}"
    assert fx.live_handles() == [] and not fx.frame_open


def test_shutdown_submits_empty_frames_until_stopping():
    fx, p, _ = make(None)
    drive(p, 6)
    ended = len(fx.submitted)
    # the fake delivers STOPPING only through its event queue: shutdown polls, and keeps frames
    # flowing (wait/begin/end, no layers) while it waits
    fx.stopping_delay_frames = 3
    p.shutdown()
    tail = fx.submitted[ended:]
    assert len(tail) >= 3 and all(s["layers"] == [] for s in tail)
    assert fx.calls.index("request_exit_session") < fx.calls.index("end_session")
    assert fx.live_handles() == []

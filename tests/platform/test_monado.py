"""platform/openxr.py against a real OpenXR runtime nobody here wrote: Monado, headless, EGL."""

import os
import time
from pathlib import Path

import numpy as np
import pytest
from OpenGL import GL

from xrdemo.platform.base import SessionState
from xrdemo.testing.monado_remote import RemoteDriver
from xrdemo.platform.openxr import OpenXRPlatform
from xrdemo.platform.xr_import import import_xr


def frames_until_focused(p, limit=60, draw=None):
    for _ in range(limit):
        f = p.begin_frame()
        p.end_frame(f, draw)
        if f.session_state == SessionState.FOCUSED and f.views:
            return f
    raise AssertionError(f"session never reached FOCUSED (state {p.session_state.name})")


def test_session_reaches_focused_with_real_pacing(openxr):
    frames_until_focused(openxr)
    for _ in range(6):      # the compositor settles its frame timing over the first frames
        openxr.end_frame(openxr.begin_frame(), None)
    times, periods = [], []
    for _ in range(8):
        f = openxr.begin_frame()
        openxr.end_frame(f, None)
        times.append(f.predicted_display_time_ns)
        periods.append(f.predicted_display_period_ns)
    assert openxr.capabilities.runtime.startswith("Monado")
    assert periods[0] > 0 and len(set(periods)) == 1
    steps = np.diff(times)
    # each frame is predicted one display period (50 ms on the null compositor) after the last
    assert np.all(steps % periods[0] == 0) and np.all(steps > 0), (steps, periods)


def test_rendered_eye_image_is_not_empty(openxr):
    from xrdemo.core.scene import build_frame_scene, make_meeting
    from xrdemo.render.renderer import Renderer

    renderer = Renderer()
    renderer.upload(build_frame_scene(make_meeting(4)))
    images = []

    def draw(i, view, fbo, size):
        renderer.draw_view(view, fbo, size)
        GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
        raw = GL.glReadPixels(0, 0, size[0], size[1], GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
        images.append(np.frombuffer(raw, np.uint8).reshape(size[1], size[0], 4))

    f = frames_until_focused(openxr, draw=draw)
    images.clear()
    f = openxr.begin_frame()
    openxr.end_frame(f, draw)
    assert f.should_render and len(images) == 2
    for img in images:
        assert img.shape == (openxr.capabilities.view_size[1], openxr.capabilities.view_size[0], 4)
        # not one flat colour: the table, people and room are in view
        assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 20
    assert GL.glGetError() == GL.GL_NO_ERROR


def test_shutdown_is_clean_and_the_runtime_takes_a_new_session(monado, egl):
    disconnects = monado.log().count("Client disconnected")
    p = OpenXRPlatform(import_xr(), egl, log=lambda m: None)
    frames_until_focused(p)
    p.shutdown()
    p.shutdown()                                         # twice is harmless
    assert p.session is None and p.instance is None
    assert monado.proc.poll() is None, "monado-service died"
    # The service logs the disconnect from its own thread: give it a moment to reach the log.
    deadline = time.monotonic() + 5.0
    while monado.log().count("Client disconnected") < disconnects + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert monado.log().count("Client disconnected") == disconnects + 1
    again = OpenXRPlatform(import_xr(), egl, log=lambda m: None)
    try:
        assert frames_until_focused(again).session_state == SessionState.FOCUSED
    finally:
        again.shutdown()


def _remote_state(driver, x, curl):
    data = type(driver.latest).from_buffer_copy(bytes(driver.latest))
    for side, hand in ((-1, data.left), (1, data.right)):
        hand.active = True
        hand.hand_tracking_active = True
        hand.pose.orientation.w = 1.0
        hand.pose.position.x = side * 0.2 + x
        hand.pose.position.y = 1.0
        hand.pose.position.z = -0.3
        for k in range(5):
            hand.hand_curl[k] = curl
    return data


def test_remote_driver_hand_joints_are_valid_and_move(openxr, monado):
    assert openxr.capabilities.hand_tracking, openxr.capabilities.missing
    frames_until_focused(openxr)

    def settle(done=lambda f: True, n=4, limit=60):
        """Run frames until done(frame) holds for n frames in a row (the runtime applies a
        driver update a few frames later, later still on a loaded machine); at most limit."""
        ok = 0
        for _ in range(limit):
            f = openxr.begin_frame()
            openxr.end_frame(f, None)
            ok = ok + 1 if done(f) else 0
            if ok >= n:
                break
        return f

    with RemoteDriver(port=monado.remote_port, host="127.0.0.1") as driver:
        driver.send(_remote_state(driver, 0.0, 0.0))
        a = settle(lambda f: f.hands.valid.all())
        start = a.hands.positions[:, 1].copy()
        driver.send(_remote_state(driver, 0.15, 0.8))
        b = settle(lambda f: np.all(np.abs(f.hands.positions[:, 1, 0] - start[:, 0] - 0.15) < 0.02))
    for f in (a, b):
        assert f.hands.active.all() and f.hands.valid.all() and f.hands.valid.shape == (2, 26)
    wrist_shift = b.hands.positions[:, 1] - a.hands.positions[:, 1]
    np.testing.assert_allclose(wrist_shift[:, 0], 0.15, atol=0.02)
    # curling the fingers brings each fingertip closer to the wrist
    tips = [10, 15, 20, 25]
    reach = lambda f: np.linalg.norm(f.hands.positions[:, tips] - f.hands.positions[:, 1:2], axis=-1)
    assert np.all(reach(b) < reach(a) - 0.005)


def test_the_service_answering_is_the_one_we_started(monado):
    from xrdemo.testing.monado_service import listening_pids, socket_inodes, unix_socket_inodes

    assert monado.remote_port != 4242 or listening_pids(4242) == {monado.proc.pid}
    assert listening_pids(monado.remote_port) == {monado.proc.pid}
    ipc = unix_socket_inodes(str(Path(monado.env["XDG_RUNTIME_DIR"]) / "monado_comp_ipc"))
    assert ipc & socket_inodes(monado.proc.pid)


def test_a_taken_remote_port_is_a_clear_failure():
    import socket

    from xrdemo.testing.monado_service import MonadoService

    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    try:
        with pytest.raises(RuntimeError, match=rf"port {port} is already held by pid {os.getpid()}"):
            MonadoService(remote=True, remote_port=port).start()
    finally:
        squatter.close()


def test_derived_frames_keep_the_session_running(openxr):
    """A copy of the frame (what the seat transform and the table alignment pass back) ends the
    frame begun; draw still gets the platform's own stage-space views."""
    import dataclasses

    from xrdemo.core.frame import View

    frames_until_focused(openxr)
    seen = []
    for _ in range(6):
        f = openxr.begin_frame()
        moved = dataclasses.replace(f, views=[View(v.position + 3.0, v.orientation, v.fov) for v in f.views])
        openxr.end_frame(moved, lambda i, view, fbo, size: seen.append((view.position, f.views[i].position)))
        assert f.session_state == SessionState.FOCUSED and not f.exit_requested
    assert len(seen) == 12
    for got, own in seen:
        np.testing.assert_array_equal(got, own)


@pytest.mark.parametrize("when", ["between frames", "while drawing"])
def test_the_runtime_dying_ends_the_session_cleanly(egl, when):
    """Like Quest Link's cable pulled: monado-service is killed; every later call fails with
    XR_ERROR_INSTANCE_LOST, and the platform ends the session with one line, no traceback."""
    import signal

    from xrdemo.platform.base import EventKind
    from xrdemo.testing.monado_service import MonadoService, default_prefix

    service = MonadoService(default_prefix(), remote=False).start()
    old = service.apply_env()
    logged = []
    try:
        egl.make_current()
        p = OpenXRPlatform(import_xr(), egl, log=logged.append)
        frames_until_focused(p)

        def kill(*_):
            if service.proc.poll() is None:
                service.proc.send_signal(signal.SIGKILL)
                service.proc.wait(timeout=10)

        if when == "between frames":
            kill()
        frames = []
        for _ in range(20):
            f = p.begin_frame()
            p.end_frame(f, kill)
            frames.append(f)
            if f.exit_requested:
                break
        assert frames[-1].exit_requested and not frames[-1].should_render
        lost = [e for f in frames for e in f.events if e.kind == EventKind.SESSION_LOST]
        assert len(lost) == 1 and "lost" in lost[0].message
        p.shutdown()
        p.shutdown()
        assert p.session is None and p.instance is None
        assert logged == [f"openxr: {lost[0].message}"]
    finally:
        service.restore_env(old)
        service.stop()

"""The app's OpenXR path on Monado with the Khronos core validation layer on (issue 13 item 7).

pyopenxr's wheel ships XR_APILAYER_LUNARG_core_validation (OpenXR 1.1) and puts its folder on
XR_API_LAYER_PATH; XR_ENABLE_API_LAYERS turns it on for instances created from then on. Every
message reaches the test through an XR_EXT_debug_utils messenger, naming the call. A session runs
start, frames, hands and controllers through the remote driver, haptics, passthrough requested, a
recentre (monado-ctl -c), shutdown and a second session; any validation message fails the test.
"""

import os
import subprocess

import numpy as np
import pytest
from OpenGL import GL

from xrdemo.platform.base import EventKind, SessionState
from xrdemo.platform.openxr import OpenXRPlatform
from xrdemo.platform.openxr_runtime import is_problem
from xrdemo.platform.xr_import import import_xr
from xrdemo.testing.monado_remote import RemoteDriver

LAYER = "XR_APILAYER_LUNARG_core_validation"


@pytest.fixture
def validation(monado):
    """The core validation layer on for instances created in this test; its messages collected."""
    xr = import_xr()
    old = os.environ.get("XR_ENABLE_API_LAYERS")
    os.environ["XR_ENABLE_API_LAYERS"] = LAYER
    os.environ.setdefault("XR_CORE_VALIDATION_EXPORT_TYPE", "text")   # the layer also prints
    try:
        layers = [_name(layer.layer_name) for layer in xr.enumerate_api_layer_properties()]
        assert LAYER in layers, f"pyopenxr's bundled validation layer is not found ({layers})"
        yield []
    finally:
        if old is None:
            os.environ.pop("XR_ENABLE_API_LAYERS", None)
        else:
            os.environ["XR_ENABLE_API_LAYERS"] = old


def _name(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def clear_draw(i, view, fbo, size):
    """What the renderer does with passthrough on, at its simplest: clear to alpha 0."""
    GL.glClearColor(0.2, 0.3, 0.4, 0.0)
    GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)


def run(p, n, draw=clear_draw, until=None):
    f = None
    for _ in range(n):
        f = p.begin_frame()
        p.end_frame(f, draw)
        if until is not None and until(f):
            return f
    if until is not None:
        raise AssertionError(f"condition not met in {n} frames (state {p.session_state.name})")
    return f


def hands_state(driver, x):
    """Both hands tracked through the remote driver (test_monado's state), triggers half pulled."""
    from tests.platform.test_monado import _remote_state

    data = _remote_state(driver, x, 0.0)
    data.left.trigger_value = data.right.trigger_value = 0.7
    return data


def problems(messages):
    return [m for m in messages if is_problem(m)]


def test_the_app_openxr_path_gives_no_validation_message(monado, egl, validation):
    egl.make_current()
    xr = import_xr()
    for session in (1, 2):                      # shutdown, then a second session on the same runtime
        p = OpenXRPlatform(xr, egl, log=lambda m: None, debug_messages=validation.append)
        try:
            assert any("xrCreateInstance" in m and "1 layers enabled" in m for m in validation), \
                "the validation layer did not load"
            run(p, 80, until=lambda f: f.session_state == SessionState.FOCUSED and f.should_render)
            requested = p.set_passthrough(True)   # Monado offers neither way: refused, cleanly
            assert requested == p.capabilities.passthrough
            run(p, 3)
            with RemoteDriver(port=monado.remote_port, host="127.0.0.1") as driver:
                driver.send(hands_state(driver, 0.05 * session))
                f = run(p, 80, until=lambda f: f.hands.valid.all() and f.controllers.active.all())
            assert np.isfinite(f.hands.positions).all() and f.controllers.grip_valid.all()
            assert p.haptic_pulse(1, 0.5, 0.02)
            if session == 1:
                out = subprocess.run([str(monado.prefix / "bin" / "monado-ctl"), "-c"],
                                     env={**os.environ, **monado.env}, capture_output=True, text=True, timeout=20)
                assert out.returncode == 0, out.stderr
                f = run(p, 80, until=lambda f: any(e.kind == EventKind.RECENTER for e in f.events))
                recentre = next(e for e in f.events if e.kind == EventKind.RECENTER)
                assert recentre.detail["space"] in ("local", "stage", "local_floor")
            p.set_passthrough(False)
            run(p, 3)
        finally:
            p.shutdown()
        assert p.session is None and p.instance is None
    assert problems(validation) == []


def test_the_messenger_catches_a_real_misuse(monado, egl, validation):
    """The same set-up sees a deliberate mistake: an invalid enum value the runtime alone would
    only answer with an error code; the layer's message names xrCreateReferenceSpace."""
    egl.make_current()
    xr = import_xr()
    p = OpenXRPlatform(xr, egl, log=lambda m: None, debug_messages=validation.append)
    try:
        run(p, 80, until=lambda f: f.session_state == SessionState.FOCUSED)
        assert problems(validation) == []
        info = xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.STAGE)
        info._reference_space_type = 0x7FFF0000       # not an XrReferenceSpaceType
        with pytest.raises(xr.XrException):
            xr.create_reference_space(p.session, info)
    finally:
        p.shutdown()
    found = problems(validation)
    assert found and all("xrCreateReferenceSpace" in m for m in found), found
    assert any("VUID-XrReferenceSpaceCreateInfo-referenceSpaceType-parameter" in m for m in found)


def test_the_whole_app_loop_gives_no_validation_message(monado, egl, validation, tmp_path):
    """app.live_loop itself — seat transform, menu, passthrough asked for, haptics on table
    contact, the mirror — on Monado with the layer on, with tracked hands through the remote
    driver: no validation message."""
    from dataclasses import replace
    from pathlib import Path

    from tests.conftest import quiet_config
    from xrdemo.app import live_loop

    egl.make_current()
    cfg = quiet_config(5)
    cfg = replace(cfg, display=replace(cfg.display, passthrough=True))
    p = OpenXRPlatform(import_xr(), egl, log=lambda m: None, debug_messages=validation.append)
    logs = []
    with RemoteDriver(port=monado.remote_port, host="127.0.0.1") as driver:
        driver.send(hands_state(driver, 0.0))
        status = live_loop(p, cfg, log=logs.append, max_frames=60, mirror_to=tmp_path / "m.mp4",
                           table_alignment=Path("/nonexistent/xrdemo/align.json"))
    assert status == 0, logs
    assert any("mirror: wrote" in line for line in logs), logs
    assert any("xrCreateInstance" in m and "1 layers enabled" in m for m in validation)
    assert problems(validation) == []


def test_the_menu_runs_on_monado_with_controllers_under_the_validation_layer(monado, egl, validation):
    """The left controller's menu button opens the panel; the right controller's ray is pointed at
    the raise-hand button (the aim pose is sent in stage space, through the inverse of the seat
    transform) and the trigger pulled: the hand goes up, with a haptic tick — all with the core
    validation layer on, and no message from it."""
    import threading
    import time
    from pathlib import Path

    from tests.conftest import quiet_config
    from xrdemo import app
    from xrdemo.core import pose as P
    from xrdemo.core.menu import MenuAction
    from xrdemo.loop.menu import Menu
    from xrdemo.loop.roster import MeetingStatus
    from xrdemo.loop.seating import Seating

    egl.make_current()
    found = {}
    original = app.FrameLoop

    from xrdemo.loop.frame_loop import FramePart

    class StopWhenPressed(FramePart):
        """End the session once the press went through (a loaded machine takes longer)."""

        def after_frame(self, tick):
            menu = found.get(Menu)
            if menu is not None and any(a == MenuAction.RAISE_HAND for _t, a, _how in menu.done):
                tick.stop = "pressed"

    def keep(platform, driver, parts, **kw):
        for part in parts:
            found[type(part)] = part
        return original(platform, driver, [*parts, StopWhenPressed()], **kw)

    p = OpenXRPlatform(import_xr(), egl, log=lambda m: None, debug_messages=validation.append)
    haptics = []
    real_pulse = p.haptic_pulse

    def pulse(hand, *a, **kw):
        haptics.append(hand)
        return real_pulse(hand, *a, **kw)
    p.haptic_pulse = pulse
    stop = threading.Event()
    logs = []

    def wearer(driver):
        def send(menu=False, aim=None, trigger=0.0):
            data = type(driver.latest).from_buffer_copy(bytes(driver.latest))
            c = data.head.center                 # seated at the stage origin, facing -Z (whatever
            c.position.x, c.position.y, c.position.z = 0.0, 1.2, 0.0    # an earlier test left)
            c.orientation.x, c.orientation.y, c.orientation.z, c.orientation.w = 0.0, 0.0, 0.0, 1.0
            data.head.per_view_data_valid = False
            data.left.trigger_value = 0.0
            for side, h in ((-1, data.left), (1, data.right)):
                h.active = True
                h.hand_tracking_active = False
                h.pose.orientation.x = h.pose.orientation.y = h.pose.orientation.z = 0.0
                h.pose.orientation.w = 1.0
                h.pose.position.x, h.pose.position.y, h.pose.position.z = side * 0.2, 1.2, -0.3
            data.left.system_click = menu
            if aim is not None:
                (x, y, z), q = aim
                r = data.right.pose
                r.position.x, r.position.y, r.position.z = float(x), float(y), float(z)
                r.orientation.x, r.orientation.y, r.orientation.z, r.orientation.w = (float(v) for v in q)
            data.right.trigger_value = trigger
            driver.send(data)

        while not stop.is_set() and (Menu not in found or Seating not in found
                                     or found[Seating].transform is None):
            send()
            time.sleep(0.05)
        for _ in range(6):                       # press and release the menu button
            send(menu=True)
            time.sleep(0.1)
        send(menu=False)
        menu = found[Menu]
        end = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < end and not menu.state.is_open:
            time.sleep(0.05)
        panel = menu.panel
        k = panel.actions.index(MenuAction.RAISE_HAND)
        target_room = panel.transforms[k][:3, 3].astype(float)
        t, q = found[Seating].transform
        t_inv, q_inv = P.pose_invert(t, q)
        target = P.transform_points(t_inv, q_inv, target_room)
        start = np.array([0.2, 1.2, -0.3])
        aim_q = P.look_rotation(target - start)
        while not stop.is_set():                 # pull and release until the press goes through
            for trigger in (0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0):
                send(aim=(start, aim_q), trigger=trigger)
                time.sleep(0.15)

    from unittest import mock

    with mock.patch.object(app, "FrameLoop", keep), \
            RemoteDriver(port=monado.remote_port, host="127.0.0.1") as driver:
        thread = threading.Thread(target=wearer, args=(driver,), daemon=True)
        thread.start()
        try:
            status = app.live_loop(p, quiet_config(4), log=logs.append, max_frames=900,
                                   table_alignment=Path("/nonexistent/xrdemo/align.json"))
        finally:
            stop.set()
            thread.join(5)
    assert status == 0, logs
    menu = found[Menu]
    assert any(a == MenuAction.RAISE_HAND and how == "button" for _t, a, how in menu.done), (menu.done, logs)
    assert found[MeetingStatus].hand.up and any("your hand is up" in line for line in logs)
    assert 1 in haptics, "no haptic tick on the right controller"
    assert problems(validation) == []

"""The desktop simulator in a real window on Xvfb (GLX, Mesa llvmpipe), driven by scripted input
and by real X events (xdotool); plus its refusal to start without a display.

The test process has PyOpenGL bound to EGL (tests/conftest.py), so every window runs in a child
process (scripts/desktop_screenshot.py) with DISPLAY set to a private Xvfb and no
PYOPENGL_PLATFORM. The child records each frame's FrameInput and screenshots to an .npz.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.platform.base import PlatformUnavailable
from xrdemo.platform.desktop_input import REACH_M_PER_PIXEL, LOOK_RADIANS_PER_PIXEL

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "scripts" / "desktop_screenshot.py"
SIZE = (640, 360)
PEOPLE = 6
MAGENTA = "0.9,0.04,0.9"      # the local person's colour: their hands are the only pink-violet things


@pytest.fixture(scope="module")
def xvfb():
    """A private Xvfb server on a free display number (Xvfb picks it: -displayfd); always stopped."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is not installed (apt-get install xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 20.0)
        assert ready, "Xvfb did not report a display within 20 s"
        number = os.read(read_fd, 64).decode().strip()
        assert number.isdigit(), f"Xvfb reported {number!r}"
        yield f":{number}"
    finally:
        os.close(read_fd)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child_env(display: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env.update(DISPLAY=display, PYTHONPATH=str(REPO))
    return env


def run_driver(display, tmp_path, script, frames, shots=(), extra=()):
    rec = tmp_path / "rec.npz"
    cmd = [sys.executable, str(DRIVER), "--record", str(rec), "--people", str(PEOPLE),
           "--size", f"{SIZE[0]}x{SIZE[1]}", "--frames", str(frames), "--script", json.dumps(script),
           "--shots", ",".join(map(str, shots)), "--local-color", MAGENTA, *extra]
    done = subprocess.run(cmd, env=child_env(display), capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(rec))


def project(rec, frame, points, size=SIZE):
    """Pixels (column, row from the top) of stage points in the recorded first view of a frame."""
    proj = P.projection_from_fov(*rec["view_fov"][frame], near=0.05, far=50.0)
    m = proj @ P.view_matrix(rec["view_pos"][frame], rec["view_rot"][frame])
    clip = np.concatenate([points, np.ones((len(points), 1))], 1) @ m.T
    ndc = clip[:, :2] / clip[:, 3:4]
    return np.stack([(ndc[:, 0] + 1) * 0.5 * size[0], (1 - ndc[:, 1]) * 0.5 * size[1]], -1)


def magenta(img):
    """(H, W) bool: pixels of the local person's pink-violet hands (skin-tinted magenta, lit:
    about (200, 130, 175) sRGB). The purple guest's head is bluer (b > r) and their hands paler."""
    r, g, b = (img[..., c].astype(int) for c in range(3))
    return (r > 90) & (r > 1.4 * g) & (b > 1.2 * g) & (r > b)


def hit_fraction(mask, pixels):
    """Fraction of pixel positions (inside the image) with a mask pixel within 2 px."""
    h, w = mask.shape
    hits = n = 0
    for x, y in np.round(pixels).astype(int):
        if 2 <= x < w - 2 and 2 <= y < h - 2:
            n += 1
            hits += bool(mask[y - 2:y + 3, x - 2:x + 3].any())
    assert n >= 5, "too few joints inside the image to judge"
    return hits / n


# -- scripted input ----------------------------------------------------------------------------
# frame: what happens (the driver's clock steps exactly 1/60 s per frame)
SCRIPT = [
    {"frame": 10, "key": "h"},                                   # hide help
    {"frame": 15, "key": "2"},                                   # both hands point
    {"frame": 20, "key": "d", "action": "press"},                # shift right for 15 frames
    {"frame": 35, "key": "d", "action": "release"},
    {"frame": 50, "cursor": [200, 200]},
    {"frame": 51, "button": "left", "action": "press"},          # drag the right hand
    {"frame": 52, "cursor": [300, 150]},                         # +100 px right, 50 px up
    {"frame": 53, "button": "left", "action": "release"},
    {"frame": 72, "button": "right", "action": "press"},         # look 100 px to the right
    {"frame": 73, "cursor": [400, 150]},
    {"frame": 74, "button": "right", "action": "release"},
    {"frame": 76, "key": "space", "action": "press"},            # lean in to whisper
    {"frame": 80, "key": "v"},                                   # side-by-side stereo
    {"frame": 100, "key": "space", "action": "release"},
    {"frame": 101, "key": "escape"},
]
SHOTS = (8, 14, 70, 86)


@pytest.fixture(scope="module")
def scripted(xvfb, tmp_path_factory):
    return run_driver(xvfb, tmp_path_factory.mktemp("desktop"), SCRIPT, frames=200, shots=SHOTS)


def test_frames_are_paced_and_hands_always_tracked(scripted):
    t = scripted["t_ns"]
    assert np.all(np.diff(t) == round(1e9 / 60))
    assert scripted["hand_pos"].shape[1:] == (2, 26, 3)
    assert scripted["hand_valid"].all()
    assert np.isfinite(scripted["hand_pos"]).all()


def test_escape_exits_cleanly(scripted):
    assert len(scripted["exit"]) == 102, "the run should end at the frame Escape was pressed"
    assert scripted["exit"][-1] and not scripted["exit"][:-1].any()


def test_gesture_key_makes_both_hands_point(scripted):
    g = scripted["gesture_right"]
    assert g[14] == "rest" and g[16] == "point" and scripted["gesture_left"][16] == "point"
    pos = scripted["hand_pos"]
    wrist, index_tip, middle_tip = 1, 10, 15

    def reach(f, hand, tip):
        return np.linalg.norm(pos[f, hand, tip] - pos[f, hand, wrist])

    for hand in (0, 1):   # resting: fingers about equally long; pointing: index out, middle curled
        assert abs(reach(14, hand, index_tip) - reach(14, hand, middle_tip)) < 0.03
        assert reach(34, hand, index_tip) > reach(34, hand, middle_tip) + 0.06


def test_lean_keys_shift_the_head_within_reach(scripted):
    head = scripted["head_pos"]
    moved = head[36] - head[19]
    assert moved[0] == pytest.approx(15 / 60 * 0.5, abs=0.01)     # D held 15 frames at 0.5 m/s
    assert abs(moved[1]) < 1e-6 and abs(moved[2]) < 1e-6
    state = S.make_meeting(PEOPLE, local=0, seed=1)
    assert np.linalg.norm(head[36] - state.seat_pos[0]) <= 0.4 + 1e-9


def test_left_drag_moves_the_right_hand_only(scripted):
    wrist = scripted["hand_pos"][:, :, 1]
    d_right = wrist[70, 1] - wrist[49, 1]
    d_left = wrist[70, 0] - wrist[49, 0]
    assert d_right[0] == pytest.approx(100 * REACH_M_PER_PIXEL, abs=0.01)
    assert d_right[1] == pytest.approx(50 * REACH_M_PER_PIXEL, abs=0.01)
    assert np.abs(d_left).max() < 3e-3


def test_right_drag_looks_around(scripted):
    yaw = P.yaw_of(scripted["head_rot"])
    assert yaw[75] - yaw[71] == pytest.approx(-100 * LOOK_RADIANS_PER_PIXEL, abs=0.05)


def test_lean_in_brings_the_head_within_whisper_distance(scripted):
    state = S.make_meeting(PEOPLE, local=0, seed=1)
    others = state.seat_pos[1:]
    nearest = lambda f: np.linalg.norm(others - scripted["head_pos"][f], axis=1).min()   # noqa: E731
    assert nearest(75) > 0.8
    assert scripted["lean"][99] == pytest.approx(1.0)
    assert nearest(99) < 0.45
    assert S.whisper_partner(state, scripted["head_pos"][75]) == -1
    assert S.whisper_partner(state, scripted["head_pos"][99]) >= 1   # the core sees the whisper
    assert scripted["lean"][101] < 1.0        # released: leaning back out


def test_screenshot_shows_the_hands_where_the_maths_projects_them(scripted):
    img = scripted["shot_70"]
    assert img.shape == (SIZE[1], SIZE[0], 3)
    mask = magenta(img)
    right = project(scripted, 70, scripted["hand_pos"][70, 1])
    left = project(scripted, 70, scripted["hand_pos"][70, 0])
    assert hit_fraction(mask, right) > 0.8
    assert hit_fraction(mask, left) > 0.8
    # Where the hands were drawn at frame 70, frame 8 (hands resting elsewhere) has no hand.
    assert hit_fraction(magenta(scripted["shot_8"]), right) < 0.3
    # Nothing else in the picture is hand-coloured: the mask's centre lies between the hands.
    ys, xs = np.nonzero(mask)
    centre = np.concatenate([left, right]).mean(0)
    assert abs(xs.mean() - centre[0]) < 0.15 * SIZE[0] and abs(ys.mean() - centre[1]) < 0.2 * SIZE[1]


def test_h_toggles_the_help_overlay(scripted):
    assert scripted["help"][9] and not scripted["help"][11]
    shown, hidden = scripted["shot_8"].astype(int), scripted["shot_14"].astype(int)
    panel = (slice(50, 190), slice(10, 250))          # top left, under the status line
    assert np.abs(shown[panel] - hidden[panel]).mean() > 20
    # the panel is dark with light text
    assert np.median(shown[panel].sum(-1)) < np.median(hidden[panel].sum(-1))
    assert (shown[panel].min(-1) > 200).mean() > 0.03
    # the status line stays at the top in both
    status = (slice(8, 30), slice(8, 200))
    for img in (shown, hidden):
        assert (img[status].min(-1) > 200).mean() > 0.03
    assert np.abs(shown[status] - hidden[status]).mean() < 3


def test_v_switches_to_side_by_side_stereo(scripted):
    vc = scripted["view_count"]
    assert vc[79] == 1 and vc[81] == 2
    fov_mono, fov_stereo = scripted["view_fov"][79], scripted["view_fov"][81]
    aspect = lambda f: np.tan(f[1]) / np.tan(f[2])     # noqa: E731 - half-width / half-height
    assert aspect(fov_mono) == pytest.approx(SIZE[0] / SIZE[1], rel=1e-6)
    assert aspect(fov_stereo) == pytest.approx(SIZE[0] / 2 / SIZE[1], rel=1e-6)
    img = scripted["shot_86"].astype(int)
    half = SIZE[0] // 2
    left, right = img[40:, :half], img[40:, half:2 * half]
    assert left.mean() > 30 and right.mean() > 30                 # both eyes drawn
    assert 0 < np.abs(left - right).mean() < 40                   # nearly, not exactly, the same


# -- real X events -----------------------------------------------------------------------------
def xdo(display, *args):
    out = subprocess.run(["xdotool", *args], env=child_env(display), capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 0, f"xdotool {' '.join(args)}: {out.stderr}"
    return out.stdout.strip()


def start_live_window(display, rec, size):
    """The desktop simulator driven by real X input for up to 60 s, recording every frame to rec."""
    cmd = [sys.executable, str(DRIVER), "--live", "60", "--record", str(rec), "--people", "3", "--size", size]
    return subprocess.Popen(cmd, env=child_env(display), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finished(proc) -> str:
    """Wait for the window's process to end; its stderr."""
    return proc.communicate(timeout=60)[1]


def focused_window(display, proc) -> str:
    """Wait for the window to open; focus it; its X id."""
    ready, _, _ = select.select([proc.stdout], [], [], 60.0)
    assert ready and proc.stdout.readline().startswith("READY"), "the window did not open"
    win = xdo(display, "search", "--sync", "--name", "xrdemo").split()[0]
    xdo(display, "windowfocus", "--sync", win)
    return win


def test_real_x_input_reaches_the_glfw_callbacks(xvfb, tmp_path):
    if not shutil.which("xdotool"):
        pytest.fail("xdotool is not installed (apt-get install xdotool)")
    rec = tmp_path / "live.npz"
    proc = start_live_window(xvfb, rec, "480x270")
    try:
        win = focused_window(xvfb, proc)
        xdo(xvfb, "key", "5")                                   # thumbs up
        xdo(xvfb, "keydown", "d")
        time.sleep(0.6)
        xdo(xvfb, "keyup", "d")
        xdo(xvfb, "mousemove", "--window", win, "200", "150")
        xdo(xvfb, "mousedown", "1")
        xdo(xvfb, "mousemove", "--window", win, "300", "150")
        xdo(xvfb, "mouseup", "1")
        xdo(xvfb, "key", "h")
        time.sleep(0.5)
        xdo(xvfb, "key", "Escape")
        err = finished(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    r = np.load(rec)
    assert r["exit"][-1], "Escape did not end the session"
    assert "thumbs_up" in set(r["gesture_right"]) and "thumbs_up" in set(r["gesture_left"])
    assert r["head_pos"][-1, 0] - r["head_pos"][0, 0] > 0.05          # D moved the head right
    wrist_x = r["hand_pos"][:, 1, 1, 0]
    assert wrist_x[-1] - wrist_x[0] > 50 * REACH_M_PER_PIXEL          # the drag moved the right hand
    assert r["help"][0] and not r["help"][-1]


def test_menu_keys_reach_the_app_as_action_events(xvfb, tmp_path):
    """Real X key presses (xdotool) become EventKind.ACTION events naming the menu action."""
    if not shutil.which("xdotool"):
        pytest.fail("xdotool is not installed (apt-get install xdotool)")
    rec = tmp_path / "keys.npz"
    proc = start_live_window(xvfb, rec, "320x180")
    keys = ["m", "b", "p", "equal", "minus", "j", "n", "l", "r", "KP_Add", "KP_Subtract", "w"]
    try:
        focused_window(xvfb, proc)
        for key in keys:
            xdo(xvfb, "key", key)
            time.sleep(0.1)
        time.sleep(0.3)
        xdo(xvfb, "key", "Escape")
        err = finished(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    got = " ".join(a for a in np.load(rec)["actions"] if a).split()
    assert got == ["MUTE", "WHISPER", "PASSTHROUGH", "VOLUME_UP", "VOLUME_DOWN", "RAISE_HAND",
                   "SEAT_NEXT", "LEAVE", "RECENTER", "VOLUME_UP", "VOLUME_DOWN"]


# -- no display --------------------------------------------------------------------------------
def test_without_a_display_the_platform_says_why_in_one_line(monkeypatch):
    from xrdemo.platform.desktop import DesktopPlatform
    from xrdemo.platform.factory import create_platform

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(PlatformUnavailable) as exc:
        DesktopPlatform()
    assert str(exc.value) == "no display for a desktop window: DISPLAY is not set"
    with pytest.raises(PlatformUnavailable, match="^no display for a desktop window: DISPLAY is not set$"):
        create_platform("desktop", log=None)


def test_a_process_already_bound_to_egl_still_opens_and_draws_the_window(xvfb):
    """After a failed OpenXR attempt PyOpenGL is bound to EGL; the window switches it to GLX."""
    code = ("import os; os.environ['PYOPENGL_PLATFORM'] = 'egl'\n"
            "from OpenGL import GL\n"
            "import OpenGL.platform as glp; print(type(glp.PLATFORM).__name__)\n"
            "from xrdemo.platform.desktop import DesktopPlatform\n"
            "from xrdemo.core import scene as S\n"
            "p = DesktopPlatform(size=(160, 90), show_help=False)\n"
            "print(type(glp.PLATFORM).__name__)\n"
            "from xrdemo.render.renderer import Renderer\n"
            "r = Renderer(); st = S.make_meeting(3)\n"
            "f = p.begin_frame(); st, scene = S.step(st, None, f.predicted_display_time_ns)\n"
            "r.upload(scene); p.request_screenshot()\n"
            "p.end_frame(f, lambda i, v, fbo, size: r.draw_view(v, fbo, size))\n"
            "img = p.last_screenshot; p.shutdown()\n"
            "print(img.shape, int(img[45:].mean()))\n")
    out = subprocess.run([sys.executable, "-c", code], env=child_env(xvfb), capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    before, after, shot = out.stdout.splitlines()
    assert (before, after) == ("EGLPlatform", "GLXPlatform")
    shape, mean = shot.rsplit(" ", 1)
    assert shape == "(90, 160, 3)" and int(mean) > 40     # the meeting was drawn, not a black window


def test_auto_picks_the_window_when_there_is_a_display_but_no_headset(xvfb):
    code = ("from xrdemo.platform.factory import create_platform\n"
            "p, why = create_platform('auto', log=None)\n"
            "f = p.begin_frame(); p.end_frame(f, None)\n"
            "print(p.capabilities.name, f.session_state.name, len(f.views), f.hands.valid.all())\n"
            "print(why)\n"
            "p.shutdown(); p.shutdown()\n")
    env = child_env(xvfb)
    env.pop("XR_RUNTIME_JSON", None)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-3000:]
    first, reason = out.stdout.splitlines()[:2]
    assert first == "desktop FOCUSED 1 True"
    assert reason.startswith("platform desktop (openxr: ")

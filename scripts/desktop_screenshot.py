#!/usr/bin/env python3
"""Run the desktop simulator on a scripted meeting and save screenshots (docs/desktop.png).

Needs a display: run it under Xvfb, e.g.
    xvfb-run -a -s "-screen 0 1280x800x24" scripts/desktop_screenshot.py --out docs/desktop.png
With no --script, it raises both hands (wave with the right, open left), shows the help panel and
saves the window as it looks after --frames frames. The tests drive the same loop with their own
input scripts (--script), record every frame's FrameInput (--record) and take screenshots
(--shots), or let real X input drive it (--live, stopped by Esc).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as written in the docs (`scripts/NAME.py ...`): re-run with the project's .venv Python
# when this one is not it.
_VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])


import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_SCRIPT = [
    {"frame": 2, "key": "left_shift", "action": "press"},
    {"frame": 3, "key": "1"},                        # left hand open, raised
    {"frame": 4, "key": "left_shift", "action": "release"},
    {"frame": 5, "key": "left_control", "action": "press"},
    {"frame": 6, "key": "4"},                        # right hand waves
    {"frame": 7, "key": "left_control", "action": "release"},
]


def parse_size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def status(fps: float, state) -> str:
    """The status line as the app writes it (xrdemo/status.py), with no audio device."""
    from xrdemo.core import scene as S
    from xrdemo.status import status_line

    return status_line(fps, state, None, S.whisper_partner(state, state.people.head_pos[state.local]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, help="PNG of the last frame (default docs/desktop.png "
                    "unless --record is given)")
    ap.add_argument("--people", type=int, default=6)
    ap.add_argument("--size", type=parse_size, default=(1280, 720), metavar="WxH")
    ap.add_argument("--frames", type=int, default=45, help="frames to run (scripted mode)")
    ap.add_argument("--start-s", type=float, default=3.0, help="meeting time of the first frame")
    ap.add_argument("--script", help="input script: a JSON list (or a path to one)")
    ap.add_argument("--record", type=Path, help="write every frame's input (.npz) and screenshots here")
    ap.add_argument("--shots", default="", help="comma-separated frame numbers to screenshot")
    ap.add_argument("--stereo", action="store_true")
    ap.add_argument("--no-help", action="store_true", help="start with the help panel hidden")
    ap.add_argument("--local-color", help="r,g,b linear colour of the local person (tests)")
    ap.add_argument("--live", type=float, metavar="SECONDS",
                    help="real-time clock, real input; run until Esc or SECONDS pass")
    args = ap.parse_args(argv)

    from xrdemo.platform.desktop import DesktopPlatform
    from xrdemo.platform.desktop_input import seat_of

    script = DEFAULT_SCRIPT if args.script is None and args.record is None and not args.live else []
    if args.script:
        text = Path(args.script).read_text() if os.path.exists(args.script) else args.script
        script = json.loads(text)
    clock = None
    if not args.live:
        steps = itertools.count()
        start, period = int(args.start_s * 1e9), int(round(1e9 / 60))
        clock = lambda: start + next(steps) * period        # noqa: E731 - simulated time
    platform = DesktopPlatform(size=args.size, stereo=args.stereo, input_script=script, clock=clock,
                               show_help=not args.no_help, vsync=not bool(clock))

    from xrdemo.core import scene as S
    from xrdemo.render.renderer import Renderer

    state = S.make_meeting(args.people, local=0, seed=1)
    if args.local_color:
        state.people.color[0] = [float(v) for v in args.local_color.split(",")]
        # Hands are skin-coloured: tint this person's skin toward the colour so tests find the hands.
        skin = state.people.skin.copy()
        skin[0, :3] = 0.55 * np.array([0.78, 0.55, 0.42]) + 0.45 * state.people.color[0]
        state.people.skin = skin
    platform.set_seat(seat_of(state))
    renderer = Renderer()
    shots = {int(s) for s in args.shots.split(",") if s.strip()}
    rec: dict[str, list] = {k: [] for k in ("head_pos", "head_rot", "hand_pos", "hand_valid", "view_pos",
                                            "view_rot", "view_fov", "view_count", "t_ns", "help",
                                            "stereo", "exit", "gesture_left", "gesture_right", "lean",
                                            "actions")}
    screenshots = {}
    deadline = time.monotonic() + (args.live or 0)
    for i in itertools.count():
        if not args.live and i >= args.frames:
            break
        if args.live and time.monotonic() > deadline:
            print("live run timed out", file=sys.stderr)
            break
        frame = platform.begin_frame()
        draw = None
        try:
            local = S.LocalInput(head_pos=frame.head.position, head_rot=frame.head.orientation,
                                 joints=frame.hands.positions, valid=frame.hands.valid,
                                 radii=frame.hands.radii)
            state, scene = S.step(state, local, frame.predicted_display_time_ns)
            platform.set_status(status(platform.fps, state))
            renderer.upload(scene)
            draw = lambda _i, view, fbo, size: renderer.draw_view(view, fbo, size)  # noqa: E731
            if i in shots or (args.out and not args.live and i == args.frames - 1):
                platform.request_screenshot()
        finally:
            platform.end_frame(frame, draw)
        if platform.last_screenshot is not None:
            screenshots[i] = platform.last_screenshot
            platform.last_screenshot = None
        v = frame.views[0]
        for key, value in (("head_pos", frame.head.position), ("head_rot", frame.head.orientation),
                           ("hand_pos", frame.hands.positions), ("hand_valid", frame.hands.valid),
                           ("view_pos", v.position), ("view_rot", v.orientation), ("view_fov", v.fov),
                           ("view_count", len(frame.views)), ("t_ns", frame.predicted_display_time_ns),
                           ("help", platform.show_help), ("stereo", platform.stereo),
                           ("exit", frame.exit_requested), ("gesture_left", platform.controls.gestures[0]),
                           ("gesture_right", platform.controls.gestures[1]),
                           ("lean", platform.controls.lean_in),
                           ("actions", " ".join(e.detail["action"] for e in frame.events
                                                if e.kind.value == "action"))):
            rec[key].append(value)
        if i == 0 and args.live:
            print(f"READY {args.size[0]}x{args.size[1]}", flush=True)
        if frame.exit_requested:
            break
    platform.shutdown()

    from PIL import Image

    if args.record:
        args.record.parent.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.asarray(v) for k, v in rec.items()}
        for idx, img in screenshots.items():
            arrays[f"shot_{idx}"] = img
        np.savez_compressed(args.record, **arrays)
    out = args.out or (None if args.record or args.live else Path("docs/desktop.png"))
    if out and screenshots:
        Image.fromarray(screenshots[max(screenshots)]).save(out)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

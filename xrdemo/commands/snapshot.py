"""``xrdemo snapshot``: render one headless frame of a meeting, seen from a seat, to a PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..validate import finite_float

HELP = "render a headless picture of a meeting from one seat (PNG)"
DESCRIPTION = """\
Render one frame of a meeting to a PNG with no display and no GPU (OpenGL on Mesa's software
renderer through EGL). People sit around the table with their hands on or above it in varied
poses; the picture is taken from the eyes of the person in --seat.

examples:
  xrdemo snapshot --people 6 --out meeting.png
  xrdemo snapshot --people 12 --table rect --size 1280x720 --out wide.png
  xrdemo snapshot --stereo --out stereo.png        # left and right eye side by side
  xrdemo snapshot --seat -1 --out overview.png     # an observer's view from above
"""


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360); argparse type with a clear message."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, not {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range (16..8192 per side)")
    return w, h


def register(sub) -> None:
    p = sub.add_parser("snapshot", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--people", type=int, default=6, help="people at the table, 1-64 (default 6)")
    p.add_argument("--out", type=Path, default=Path("meeting.png"), help="PNG to write (default meeting.png)")
    p.add_argument("--size", type=parse_size, default=(640, 360), metavar="WxH",
                   help="image size per eye in pixels (default 640x360)")
    p.add_argument("--stereo", action="store_true", help="render both eyes, side by side")
    p.add_argument("--seat", type=int, default=0,
                   help="whose eyes to look through (default 0; -1 = an observer above the table)")
    p.add_argument("--table", choices=("round", "rect"), default="round", help="table shape")
    p.add_argument("--time", type=finite_float, default=6.0, metavar="SECONDS",
                   help="moment of the scripted meeting to show (default 3.0)")
    p.add_argument("--seed", type=int, default=1, help="seed of the scripted meeting (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 1 <= args.people <= 64:
        raise ValueError(f"--people must be between 1 and 64, not {args.people}")
    if not 0 <= args.seed < 2**63:
        raise ValueError(f"--seed must be a whole number from 0 to 2**63-1, not {args.seed}")
    if not 0 <= args.time <= 600:
        raise ValueError(f"--time must be between 0 and 600 seconds, not {args.time}")
    if not -1 <= args.seat < args.people:
        raise ValueError(f"--seat {args.seat} does not exist with {args.people} people "
                         f"(use 0..{args.people - 1}, or -1 for an observer)")
    image, info = render_snapshot(args.people, args.size, stereo=args.stereo, seat=args.seat,
                                  table_shape=args.table, t_s=args.time, seed=args.seed)
    save_png(image, args.out)
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]}, {args.people} people, "
          f"seat {args.seat}, {info['draw_calls_per_view']} draw calls per view, "
          f"{info['render_ms']:.0f} ms on {info['renderer']})")
    return 0


def render_snapshot(people: int, size, stereo=False, seat=0, table_shape="round", t_s=6.0,
                    seed=1):
    """Render a scripted meeting headless. Returns ((H, W*eyes, 3) uint8 image, info dict)."""
    from ..render.context import create_headless_context, gl_info

    with create_headless_context():
        from ..core import pose as P
        from ..core import scene as S
        from ..core.room import Table
        from ..core.views import eye_views
        from ..render.renderer import Renderer

        state = S.make_meeting(people, table=Table(shape=table_shape), local=seat, seed=seed)
        state, frame = run_meeting_until(state, t_s)
        if seat >= 0:
            eye = state.people.head_pos[seat]
            focus = np.array([0.0, state.table.height + 0.22, 0.0])
            _, rot = P.look_at(eye, focus)
            views = eye_views(eye, rot, size, stereo=stereo)
        else:
            eye, rot = P.look_at([0.0, 2.5, 2.6], [0.0, state.table.height, 0.0])
            views = eye_views(eye, rot, size, stereo=stereo, horizontal_fov_deg=75.0)
        renderer = Renderer()
        t0 = time.perf_counter()
        images = renderer.render_to_arrays(frame, views, size)
        info = {"render_ms": (time.perf_counter() - t0) * 1e3,
                "draw_calls_per_view": renderer.stats["draw_calls_per_view"],
                "renderer": gl_info()["renderer"].split(" (")[0], "views": views,
                "state": state}
    return np.concatenate([im[..., :3] for im in images], axis=1), info


def run_meeting_until(state, t_s: float, rate_hz: float = 30.0):
    """Step a scripted meeting from 0 to t_s at rate_hz (gaze, blinks and turns have history)."""
    from ..core import scene as S

    frame = None
    for i in range(int(round(t_s * rate_hz)) + 1):
        state, frame = S.step(state, None, int(round(i * 1e9 / rate_hz)))
    return state, frame


def save_png(image: np.ndarray, path: Path) -> None:
    """Write an (H, W, 3) uint8 image; a missing folder is an error that names it."""
    from PIL import Image

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {path / 'meeting.png'}")
    if path.parent and not path.parent.exists():
        raise FileNotFoundError(f"folder {path.parent} does not exist (for --out {path})")
    Image.fromarray(image).save(path)

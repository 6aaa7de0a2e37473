"""``xrdemo snapshot``: render one headless frame of a meeting, seen from a seat, to a PNG."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..validate import finite_float
from .common import parse_size

DEFAULT_TIME_S = 6.0
"""The moment of the scripted meeting a snapshot shows by default (seconds)."""

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
  xrdemo snapshot --portrait 2 --out grace.png      # person 2's face, close up
  xrdemo snapshot --portrait 2 --expression smile_left=1 --expression jaw_open=0.6 --out smile.png
  xrdemo snapshot --config meeting.toml            # the room, table and people of a config file
"""


def parse_expression(text: str) -> tuple[str, float]:
    """'jaw_open=0.6' -> ('jaw_open', 0.6); argparse type naming the problem in one line."""
    from ..core.expressions import EXPRESSIONS

    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expression must look like NAME=WEIGHT, not {text!r}")
    if name not in EXPRESSIONS:
        raise argparse.ArgumentTypeError(f"unknown expression {name!r}; known: {', '.join(EXPRESSIONS)}")
    try:
        w = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"weight of {name} must be a number 0..1, not {value!r}") from None
    if not 0.0 <= w <= 1.0:
        raise argparse.ArgumentTypeError(f"weight of {name} must be within 0..1, not {w}")
    return name, w


def register(sub) -> None:
    p = sub.add_parser("snapshot", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--people", type=int, default=None, help="people at the table, 1-64 (default: config or 6)")
    p.add_argument("--out", type=Path, default=None,
                   help="PNG to write (default: xrdemo-<login name>-<date>-<hhmm>.png here, "
                        "numbered -2, -3 ... if taken)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (else: refuse)")
    p.add_argument("--size", type=parse_size, default=None, metavar="WxH",
                   help="image size per eye in pixels (default: config or 640x360)")
    p.add_argument("--stereo", action="store_true", help="render both eyes, side by side")
    p.add_argument("--seat", type=int, default=None,
                   help="whose eyes to look through (default: config or 0; -1 = an observer above the table)")
    p.add_argument("--table", choices=("round", "rect"), default=None, help="table shape (default: config or round)")
    p.add_argument("--time", type=finite_float, default=DEFAULT_TIME_S, metavar="SECONDS",
                   help=f"moment of the scripted meeting to show (default {DEFAULT_TIME_S:g})")
    p.add_argument("--seed", type=int, default=None, help="seed of the scripted meeting (default: config or 1)")
    p.add_argument("--config", type=Path, default=None, help="a TOML configuration (xrdemo config --example)")
    p.add_argument("--portrait", type=int, default=None, metavar="K",
                   help="render person K's face close up instead of a seat's view")
    p.add_argument("--expression", type=parse_expression, action="append", default=None, metavar="NAME=W",
                   help="set one expression weight 0..1 on the portrayed person (repeatable; see "
                        "core/expressions.py for the names)")
    p.set_defaults(func=run)


def run(args) -> int:
    from dataclasses import replace

    from ..config import load_config
    from ..outputs import claim_output, claimed, default_output

    cfg = load_config(args.config)
    people = args.people if args.people is not None else cfg.meeting.people
    seat = args.seat if args.seat is not None else cfg.meeting.seat
    seed = args.seed if args.seed is not None else cfg.meeting.seed
    size = args.size or (cfg.display.width, cfg.display.height)
    table = replace(cfg.table, shape=args.table) if args.table else cfg.table
    if not 1 <= people <= 64:
        raise ValueError(f"--people must be between 1 and 64, not {people}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"--seed must be a whole number from 0 to 2**63-1, not {seed}")
    if not 0 <= args.time <= 600:
        raise ValueError(f"--time must be between 0 and 600 seconds, not {args.time}")
    if not -1 <= seat < people:
        raise ValueError(f"--seat {seat} does not exist with {people} people "
                         f"(use 0..{people - 1}, or -1 for an observer)")
    if args.portrait is not None and not 0 <= args.portrait < people:
        raise ValueError(f"--portrait {args.portrait} does not exist with {people} people "
                         f"(use 0..{people - 1})")
    if args.expression and args.portrait is None:
        raise ValueError("--expression sets the face of --portrait K; give --portrait too")
    if args.out is not None and args.out.suffix.lower() != ".png":
        raise ValueError(f"--out {args.out} must end in .png")
    made = args.out is None
    out = claim_output(default_output(".png") if made else args.out, default=made, overwrite=args.overwrite)
    with claimed(out if made else None):
        image, info = render_snapshot(people, size, stereo=args.stereo, seat=seat,
                                      table_shape=table.shape, t_s=args.time, seed=seed,
                                      config=replace(cfg, table=table), portrait=args.portrait,
                                      expressions=dict(args.expression or ()))
        save_png(image, out)
    print(f"wrote {out} ({image.shape[1]}x{image.shape[0]}, {people} people, "
          f"seat {seat}, {info['draw_calls_per_view']} draw calls per view, "
          f"{info['render_ms']:.0f} ms on {info['renderer']})")
    return 0


def render_snapshot(people: int, size, stereo=False, seat=0, table_shape="round", t_s=DEFAULT_TIME_S,
                    seed=1, config=None, portrait: int | None = None, expressions: dict | None = None):
    """Render a scripted meeting headless. Returns ((H, W*eyes, 3) uint8 image, info dict).

    config: a Config whose room, table sizes, names and [avatars] to use (people, seat, seed and
    the table's shape still come from the arguments). portrait: person K's face close up (0.55 m
    in front of it, 26° field of view) instead of a seat's view; expressions: {name: weight} set
    on that face (the rest as the meeting has them)."""
    from ..render.context import create_headless_context, gl_info

    view_seat = -1 if portrait is not None else seat     # a portrait: every face is drawn
    with create_headless_context():
        from ..core import pose as P
        from ..core import scene as S
        from ..core.room import Table
        from ..core.views import eye_views
        from ..render.renderer import Renderer

        if config is None:
            state = S.make_meeting(people, table=Table(shape=table_shape), local=view_seat, seed=seed)
        else:
            from ..core.room import Room

            t, r = config.table, config.room
            state = S.make_meeting(people, table=Table(shape=table_shape, radius=t.radius, width=t.width,
                                                       depth=t.depth, height=t.height),
                                   room=Room(width=r.width, depth=r.depth, height=r.height),
                                   local=view_seat, seed=seed, names=config.meeting.names[:people])
        if config is not None:
            state.torso = config.avatars.torso
        state, frame = run_meeting_until(state, t_s)
        if portrait is not None:
            frame = _with_expressions(frame, portrait, expressions or {})
            views = portrait_views(state, portrait, size, stereo)
        elif seat >= 0:
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


def portrait_views(state, k: int, size, stereo: bool = False):
    """Views of person k's face from 0.55 m in front of it, slightly to one side."""
    from ..core import pose as P
    from ..core.views import eye_views

    head, rot = state.people.head_pos[k], state.people.head_rot[k]
    fwd = P.quat_rotate(rot, np.array([-0.25, -0.05, -1.0]))
    eye = head + 0.55 * fwd / np.linalg.norm(fwd)
    _, look = P.look_at(eye, head + P.quat_rotate(rot, np.array([0.0, -0.03, 0.0])))
    return eye_views(eye, look, size, stereo=stereo, horizontal_fov_deg=26.0 * size[0] / size[1])


def _with_expressions(frame, k: int, weights: dict):
    """The frame with person k's expression weights set (faces are all drawn: an observer's)."""
    from dataclasses import replace

    from ..core.expressions import INDEX

    if not weights:
        return frame
    expr = frame.faces.expressions.copy()
    for name, w in weights.items():
        expr[k, INDEX[name]] = w
    return replace(frame, faces=replace(frame.faces, expressions=expr))


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

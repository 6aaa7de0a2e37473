"""What several commands share: reading --size, and a configuration with the command line's
overrides (--people, --seat, --size, --fps) applied and checked."""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..validate import video_size


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360); argparse type with a clear message."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 640x360, not {text!r}") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"size {w}x{h} is out of range (16..8192 per side)")
    return w, h


def config_with_overrides(args):
    from ..config import load_config

    cfg = load_config(args.config)
    m = cfg.meeting
    people = args.people if args.people is not None else m.people
    seat = args.seat if getattr(args, "seat", None) is not None else m.seat
    if not 1 <= people <= 64:
        raise ValueError(f"--people must be between 1 and 64, not {people}")
    if not 0 <= seat < people:
        raise ValueError(f"--seat {seat} does not exist with {people} people (use 0..{people - 1})")
    cfg = replace(cfg, meeting=replace(m, people=people, seat=seat))
    d = cfg.display
    if getattr(args, "size", None):
        video_size(*args.size, "--size")
        d = replace(d, width=args.size[0], height=args.size[1])
    if getattr(args, "fps", None) is not None:
        if not 1 <= args.fps <= 240:
            raise ValueError(f"--fps must be between 1 and 240, not {args.fps}")
        d = replace(d, fps=args.fps)
    return replace(cfg, display=d)

"""Checks of numbers read from the command line and config files, shared by the commands so that
each rule lives in one place. Each raises ValueError (or argparse.ArgumentTypeError, for argparse
types) with one line naming the setting and the problem."""

from __future__ import annotations

import argparse
import math


def finite_float(text: str) -> float:
    """argparse type: a float that is a real number (not nan, not inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
    return value


def video_size(width: int, height: int, where: str = "size") -> tuple[int, int]:
    """A video frame size: both sides even (the H.264 encoder's 4:2:0 chroma needs it). An odd
    side is refused with the nearest even size suggested."""
    if width % 2 or height % 2:
        raise ValueError(f"{where} {width}x{height}: video sizes must be even on both sides "
                         f"(try {width + width % 2}x{height + height % 2})")
    return width, height


def folder_parent_exists(path, option: str) -> None:
    """A file or folder to be written: its parent folder must exist already (nothing is made at
    the top of a mistyped path)."""
    from pathlib import Path

    parent = Path(path).expanduser().absolute().parent
    if not parent.is_dir():
        raise ValueError(f"{option} {path}: folder {parent} does not exist")

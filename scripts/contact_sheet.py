#!/usr/bin/env python3
"""Make a contact sheet (a grid of evenly spaced frames) from an MP4, for the README.

Usage: scripts/contact_sheet.py meeting.mp4 docs/recording-contact-sheet.png [--frames 12] [--cols 4]
"""

import os
import sys
from pathlib import Path

# Run as written in the docs (`scripts/NAME.py ...`): re-run with the project's .venv Python
# when this one is not it.
_VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])


import argparse

import av
import numpy as np
from PIL import Image, ImageDraw


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("out")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--cols", type=int, default=4)
    ap.add_argument("--width", type=int, default=320, help="width of each tile in pixels")
    args = ap.parse_args()
    with av.open(args.video) as c:
        stream = c.streams.video[0]
        frames = [(f.time, f.to_ndarray(format="rgb24")) for f in c.decode(stream)]
    picks = np.linspace(0, len(frames) - 1, args.frames).round().astype(int)
    h, w = frames[0][1].shape[:2]
    tw, th = args.width, int(args.width * h / w)
    rows = -(-args.frames // args.cols)
    sheet = Image.new("RGB", (args.cols * tw, rows * th), (0, 0, 0))
    draw = ImageDraw.Draw(sheet)
    for i, k in enumerate(picks):
        t, img = frames[k]
        tile = Image.fromarray(img).resize((tw, th), Image.LANCZOS)
        x, y = (i % args.cols) * tw, (i // args.cols) * th
        sheet.paste(tile, (x, y))
        draw.text((x + 6, y + 4), f"{t:.1f} s", fill=(255, 255, 255))
    sheet.save(args.out)
    print(f"wrote {args.out} ({len(picks)} of {len(frames)} frames)")


if __name__ == "__main__":
    main()

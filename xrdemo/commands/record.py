"""``xrdemo record``: a headless recording of a meeting, seen and heard from one seat."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..validate import finite_float, folder_parent_exists
from .common import config_with_overrides, parse_size

HELP = "record a meeting headless to an MP4 with binaural sound (no display, GPU or sound card)"
DESCRIPTION = """\
Record a meeting from one seat to an MP4 (H.264 video, binaural AAC stereo; listen with
headphones). The recorded person's head follows the conversation, glances around, and once
leans toward the neighbour on their right, who leans in and whispers back. Runs on the
simulated runtime and Mesa's software renderer: no display, GPU or sound card needed.

examples:
  xrdemo record --seconds 20 --people 6 --out meeting.mp4
  xrdemo record                                    # 20 s to xrdemo-<you>-<date>-<hhmm>.mp4
  xrdemo record --seconds 5 --frames-dir frames/ --out '' --metrics metrics.json
  xrdemo record --config meeting.toml --out meeting.mp4
"""


def register(sub) -> None:
    p = sub.add_parser("record", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_recording_arguments(p)
    p.set_defaults(func=run)


def add_recording_arguments(p) -> None:
    p.add_argument("--seconds", type=finite_float, default=20.0, help="length of the recording (default 20)")
    p.add_argument("--people", type=int, default=None, help="people at the table (default: config or 6)")
    p.add_argument("--seat", type=int, default=None, help="whose eyes and ears to record (default: config or 0)")
    p.add_argument("--out", type=str, default=None,
                   help="MP4 to write (default: xrdemo-<login name>-<date>-<hhmm>.mp4 here, numbered "
                        "-2, -3 ... if taken; '' for none, with --frames-dir)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists (else: refuse)")
    p.add_argument("--frames-dir", type=Path, default=None, help="also write every frame as PNG here")
    p.add_argument("--metrics", type=Path, default=None, help="write CPU timings per frame as JSON here")
    p.add_argument("--size", type=parse_size, default=None, metavar="WxH",
                   help="video size (default: config or 640x360)")
    p.add_argument("--fps", type=int, default=None, help="frames per second (default: config or 30)")
    p.add_argument("--no-audio", action="store_true", help="record the picture only")
    p.add_argument("--config", type=Path, default=None, help="a TOML configuration (xrdemo config --example)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args) -> int:
    from ..recording import record_meeting

    if not 0 < args.seconds <= 3600:
        raise ValueError(f"--seconds must be between 0 and 3600, not {args.seconds}")
    from ..outputs import claim_output, claimed, default_output

    cfg = config_with_overrides(args)
    made = args.out is None
    out = Path(args.out) if args.out else None
    if out is not None and out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name such as {out / 'meeting.mp4'}")
    if out is not None and out.suffix.lower() != ".mp4":
        raise ValueError(f"--out {out} must end in .mp4")
    if args.frames_dir is not None:
        folder_parent_exists(args.frames_dir, "--frames-dir")
    if made:
        out = default_output(".mp4")
    if out is not None:
        out = claim_output(out, default=made, overwrite=args.overwrite)
    with claimed(out if made else None):
        summary = record_meeting(cfg, args.seconds, out, frames_dir=args.frames_dir,
                                 metrics_path=args.metrics, audio=not args.no_audio,
                                 progress=not args.quiet)
    what = [str(p) for p in (out, args.frames_dir, args.metrics) if p]
    print(f"wrote {', '.join(what)}: {summary['frames']} frames of {cfg.meeting.people} people from "
          f"seat {cfg.meeting.seat}, {summary['fps']} fps, audio {'binaural' if summary['audio'] else 'off'}; "
          f"per frame: core {summary['core_ms']['median']} ms, render {summary['render_submit_ms']['median']} ms, "
          f"readback {summary['readback_ms']['median']} ms (medians)")
    return 0

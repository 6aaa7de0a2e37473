"""``xrdemo run``: the main job — the meeting on a headset, else in a window, else recorded headless."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..validate import finite_float
from .record import config_with_overrides

HELP = "join the meeting: headset if there is one, else a desktop window, else a headless recording"
DESCRIPTION = """\
Run the meeting on the best platform here, and say which and why:
  openxr    a headset through any OpenXR runtime (Quest Link on Windows, Monado/WiVRn on Linux)
  desktop   a window with mouse look, keys to lean and whisper, and simulated hands (press H)
  headless  no headset and no display: record the meeting to an MP4 with binaural sound
'auto' (the default) tries them in that order. `xrdemo` with no arguments is `xrdemo run`.

examples:
  xrdemo                                   # same as: xrdemo run --platform auto
  xrdemo run --platform desktop --people 8
  xrdemo run --platform headless --seconds 10 --recording meeting.mp4
  xrdemo run --config meeting.toml
  xrdemo run --join meet.example.org:4733/standup --name Ada    # a networked meeting (xrdemo serve)
  xrdemo run --join nats://nats.example.org:4222/standup        # a room served over NATS
  xrdemo run --join meet.example.org:4733/standup --record standup.xrrec  # relive it: xrdemo replay
"""


def register(sub) -> None:
    p = sub.add_parser("run", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--platform", choices=("auto", "openxr", "desktop", "headless"), default="auto",
                   help="where to run (default auto)")
    p.add_argument("--people", type=int, default=None, help="people at the table (default: config or 6)")
    p.add_argument("--seat", type=int, default=None,
                   help="your seat (default 0; with --join the seat to ask for, else the lowest free one)")
    p.add_argument("--seconds", type=finite_float, default=None,
                   help="stop after this long (default: until you quit; 20 for a headless recording)")
    p.add_argument("--recording", type=Path, default=Path("xrdemo-recording.mp4"),
                   help="where a headless run writes its MP4 (default ./xrdemo-recording.mp4)")
    p.add_argument("--config", type=Path, default=None, help="a TOML configuration (xrdemo config --example)")
    p.add_argument("--calibrate-table", type=finite_float, default=0.0, metavar="SECONDS",
                   help="first touch your real table for SECONDS (index fingertips, corners and edges); "
                        "the virtual table then lies on it, and later runs reuse the fit")
    p.add_argument("--table-alignment", type=Path, default=None, metavar="FILE",
                   help="where the table fit is kept (default: ~/.config/xrdemo/table-alignment.json)")
    p.add_argument("--join", metavar="HOST[:PORT]/ROOM", default=None,
                   help="sit in a networked meeting served by `xrdemo serve` (default port 4733), "
                        "or nats://HOST[:PORT]/ROOM for rooms served over NATS (`xrdemo serve --nats`); "
                        "headless, this records what your seat sees and hears")
    p.add_argument("--name", default=None, help="your display name in a networked meeting (default: login name)")
    p.add_argument("--identity", type=Path, default=None, metavar="FILE",
                   help="an identity key file to join with (default: your own, made on first use, see "
                        "`xrdemo id`). It must exist: make a new one with `xrdemo id --identity FILE`. "
                        "(XRDEMO_IDENTITY=FILE also picks the file, and makes it when missing, for scripts)")
    p.add_argument("--record", type=Path, default=None, metavar="FILE",
                   help="also record the meeting as you see and hear it to FILE (.xrrec); "
                        "play it again with `xrdemo replay FILE`")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..app import run as run_app

    if args.seconds is not None and not 0 < args.seconds <= 24 * 3600:
        raise ValueError(f"--seconds must be positive, not {args.seconds}")
    cfg = config_with_overrides(args)
    if not 0 <= args.calibrate_table <= 600:
        raise ValueError(f"--calibrate-table must be between 0 and 600 seconds, not {args.calibrate_table}")
    if args.record is not None and args.record.suffix.lower() != ".xrrec":
        raise ValueError(f"--record {args.record} must end in .xrrec")
    if args.join is not None:
        from ..net.protocol import check_join_url

        check_join_url(args.join)                      # a bad address fails here, in one line
        if args.identity is not None:
            import os

            from ..net.identity import IDENTITY_ENV

            if not args.identity.exists():             # a typo must not quietly make a new you
                raise ValueError(f"--identity {args.identity}: no such file. To make a new identity there: "
                                 f"xrdemo id --identity {args.identity}")

            os.environ[IDENTITY_ENV] = str(args.identity)   # read where the meeting is joined
        if args.name is not None and not 0 < len(args.name.strip()) <= 32:
            raise ValueError("--name must be 1 to 32 characters")
        if args.people is not None:
            print(f"xrdemo: --people is ignored with --join: the room has as many places as the server "
                  f"gives it (xrdemo serve --capacity)")
    return run_app(args.platform, cfg, seconds=args.seconds, recording=args.recording,
                   calibrate_table=args.calibrate_table, table_alignment=args.table_alignment,
                   join=args.join, name=args.name, want_seat=args.seat if args.join else None,
                   record=args.record)

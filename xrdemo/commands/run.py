"""``xrdemo run``: the main job — the meeting on a headset, else in a window, else recorded headless."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..validate import finite_float
from .common import config_with_overrides

HEADLESS_SECONDS = 20.0
"""How long a headless run records when --seconds is not given (app.run's default)."""

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
  xrdemo run --platform headless --seconds 10 --video meeting.mp4
  xrdemo run --platform headless --join 192.168.1.20/team     # a headless participant, recorded
  xrdemo run --platform openxr --mirror-to headset.mp4          # what the wearer sees, with sound
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
                   help="your seat (default: config or 0; with --join the seat to ask for, else the lowest "
                        "free one)")
    p.add_argument("--seconds", type=finite_float, default=None,
                   help=f"stop after this long (default: until you quit; {HEADLESS_SECONDS:g} for a headless "
                        f"recording)")
    p.add_argument("--video", "--recording", dest="recording", type=Path, default=None, metavar="FILE.mp4",
                   help="where a headless run writes its MP4 (default: xrdemo-<name>-<date>-<hhmm>.mp4 "
                        "here, numbered -2, -3 ... if taken; --recording is the old name)")
    p.add_argument("--mirror", action="store_true",
                   help="on a headset, also show what you see (the left eye) in a desktop window")
    p.add_argument("--mirror-to", type=Path, default=None, metavar="FILE.mp4",
                   help="on a headset or in a window, also record what you see (the left eye) with the "
                        "sound you hear to FILE.mp4: for a spectator, a bug report or a stream")
    p.add_argument("--overwrite", action="store_true",
                   help="replace --video, --mirror-to or --record if it exists (else: refuse)")
    p.add_argument("--config", type=Path, default=None, help="a TOML configuration (xrdemo config --example)")
    p.add_argument("--calibrate-table", type=finite_float, default=0.0, metavar="SECONDS",
                   help="headset only: first touch your real table for SECONDS (index fingertips, corners "
                        "and edges); the virtual table then lies on it, and later runs reuse the fit "
                        "(default 0: use the saved fit, if any)")
    p.add_argument("--table-alignment", type=Path, default=None, metavar="FILE",
                   help="where the table fit is kept (default: ~/.config/xrdemo/table-alignment.json)")
    p.add_argument("--join", metavar="HOST[:PORT]/ROOM", default=None,
                   help="sit in a networked meeting served by `xrdemo serve` (default port 4733), "
                        "or nats://HOST[:PORT]/ROOM for rooms served over NATS (`xrdemo serve --nats`); "
                        "headless, this records what your seat sees and hears")
    p.add_argument("--name", default=None,
                   help="your display name in a networked meeting (default: your login name)")
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
    if args.calibrate_table > 0 and args.platform in ("desktop", "headless"):
        raise ValueError(f"--calibrate-table needs a headset (your real hands touching your real table); "
                         f"--platform {args.platform} has none")
    if args.record is not None and args.record.suffix.lower() != ".xrrec":
        raise ValueError(f"--record {args.record} must end in .xrrec")
    if args.mirror_to is not None:
        if args.mirror_to.suffix.lower() != ".mp4":
            raise ValueError(f"--mirror-to {args.mirror_to} must end in .mp4")
        if not args.mirror_to.parent.exists():
            raise ValueError(f"--mirror-to {args.mirror_to}: folder {args.mirror_to.parent} does not exist")
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
    from ..outputs import claim_output, claimed, default_output, login_name

    name = args.name.strip() if args.name is not None else login_name()
    if args.recording is not None and args.recording.suffix.lower() != ".mp4":
        raise ValueError(f"--video {args.recording} must end in .mp4")
    made = args.recording is None
    recording = claim_output(default_output(".mp4", person=name) if made else args.recording,
                             default=made, overwrite=args.overwrite, flag="--video")
    record = None if args.record is None else claim_output(args.record, default=False, overwrite=args.overwrite,
                                                           flag="--record")
    mirror_to = None if args.mirror_to is None else claim_output(args.mirror_to, default=False,
                                                                 overwrite=args.overwrite, flag="--mirror-to")
    # the default MP4 is claimed now (so two programs started together never pick the same
    # name) and removed at the end if nothing was written to it (a headset or a window ran)
    with claimed(recording if made else None):
        return run_app(args.platform, cfg, seconds=args.seconds, recording=recording,
                       calibrate_table=args.calibrate_table, table_alignment=args.table_alignment,
                       join=args.join, name=name, want_seat=args.seat if args.join else None,
                       record=record, mirror_to=mirror_to, mirror=args.mirror)

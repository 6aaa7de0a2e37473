"""The ``xrdemo`` command: argument parsing and dispatch to subcommands.

Each subcommand lives in its own module that exposes ``register(subparsers)``; that function adds
an argparse sub-parser and sets ``func`` (taking the parsed args, returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules that each contribute one or more subcommands, in the order --help lists them.
SUBCOMMAND_MODULES = [
    "xrdemo.commands.run",
    "xrdemo.commands.snapshot",
    "xrdemo.commands.record",
    "xrdemo.commands.config",
    "xrdemo.commands.audio_demo",
    "xrdemo.commands.doctor",
    "xrdemo.commands.serve",
    "xrdemo.commands.identity",
    "xrdemo.commands.replay",
]

DESCRIPTION = """\
xrdemo: meet people around a virtual table. Each person is a head and two tracked hands;
voices come from where people sit.

With no command, xrdemo runs its main job (shown at the end of this help).
"""

# What `xrdemo` with no arguments runs.
DEFAULT_COMMAND = ["run", "--platform", "auto"]

EXAMPLES = """\
examples:
  xrdemo                                        # the main job: headset, else a window, else a recording
  xrdemo doctor                                 # what this machine can run, and why
  xrdemo run --platform desktop --people 8      # a window with mouse look and simulated hands
  xrdemo record --seconds 20 --people 6         # headless MP4 with binaural sound
  xrdemo snapshot --people 6 --out meeting.png  # one headless picture
  xrdemo audio-demo --out demo.wav              # voices around you, on headphones
  xrdemo config --example > meeting.toml        # every setting, commented
  xrdemo run --config meeting.toml
  xrdemo run --calibrate-table 20               # headset: touch your real table first
  xrdemo serve                                  # a meeting server for other machines (port 4733)
  xrdemo run --join 192.168.1.20/team --name Ada              # sit in a networked meeting
  xrdemo run --platform headless --join 192.168.1.20/team     # a headless participant, recorded
  xrdemo run --join 192.168.1.20/team --record standup.xrrec  # keep the meeting as you lived it
  xrdemo replay standup.xrrec                   # ... and live it again
  xrdemo id --known                             # your identity and the people you have met

Files a command writes by default are named after you and the time
(xrdemo-<name>-<date>-<hhmm>.mp4), numbered if taken; a name you give is never replaced unless you
add --overwrite. Each command's --help has more (xrdemo run --help).
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: 'xrdemo snapshot: error: ...' and exit status 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="xrdemo", description=DESCRIPTION,
                     epilog=EXAMPLES + "\nwith no arguments: xrdemo " + " ".join(DEFAULT_COMMAND),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    from xrdemo import __version__

    parser.add_argument("--version", action="version", version=f"xrdemo {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        print(f"xrdemo: no command given, running: xrdemo {' '.join(DEFAULT_COMMAND)}", flush=True)
        args = parser.parse_args(DEFAULT_COMMAND)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, RuntimeError) as exc:
        # Expected failures (bad config, missing asset, unwritable output, unavailable device)
        # get one clear line.
        print(f"xrdemo {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())

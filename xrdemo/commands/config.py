"""``xrdemo config``: print a complete example configuration, or check a file."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "print an example configuration (TOML), or check one"
DESCRIPTION = """\
Every command that takes --config reads a TOML file with sections [room], [table], [meeting],
[audio] and [display]. Every key is optional; unknown keys are errors naming the key.

examples:
  xrdemo config --example > meeting.toml
  xrdemo config --check meeting.toml
"""


def register(sub) -> None:
    p = sub.add_parser("config", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--example", action="store_true", help="print a commented example with the defaults")
    g.add_argument("--check", type=Path, metavar="FILE", help="validate FILE and print what it sets")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import EXAMPLE, load_config

    if args.example:
        print(EXAMPLE, end="")
        return 0
    cfg = load_config(args.check)
    print(f"{args.check}: ok")
    for section in ("room", "table", "meeting", "audio", "display", "avatars"):
        print(f"  [{section}] {getattr(cfg, section)}")
    return 0

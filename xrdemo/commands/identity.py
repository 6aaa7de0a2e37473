"""``xrdemo id``: show (and on first use, make) this user's identity key for networked meetings."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "show your identity key for networked meetings (made on first use) and its fingerprint"
DESCRIPTION = """\
Your identity in networked meetings is an Ed25519 key pair kept in one private file (mode 0600):
  $XRDEMO_IDENTITY if set, else $XDG_CONFIG_HOME/xrdemo/identity.key, else ~/.config/xrdemo/identity.key
xrdemo makes it the first time you need it. Every join is signed with it, so the server and
everyone in the room can check that the person who says "Ada" holds Ada's key: a copied join
is refused, a name someone else already uses is refused, and a verified person's name tag
shows a check mark (✓).

The fingerprint (8 groups of 4 hex digits) is the short form of your public key. Read it to
the people you meet (or compare it on screen) once: xrdemo remembers who had which key
(known_people.json beside the key) and warns when a known name comes back with another key.

Keep the file private and back it up: whoever has a copy can be you, and a lost key means a
new fingerprint (people who knew you will see a warning until they accept the new one).
"""


def register(sub) -> None:
    p = sub.add_parser("id", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--identity", type=Path, default=None, metavar="FILE",
                   help="the identity file to show or make (default: as above; same as XRDEMO_IDENTITY=FILE)")
    p.add_argument("--known", action="store_true",
                   help="also list the people you have met (name and fingerprint)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..net.identity import KnownPeople, load_or_create_identity

    identity, created = load_or_create_identity(args.identity)
    if created:
        print(f"made a new identity key: {identity.path}")
    print(f"identity file: {identity.path}")
    print(f"public key:    {identity.public.hex()}")
    print(f"fingerprint:   {identity.fingerprint}")
    if args.known:
        known = KnownPeople.beside(identity)
        people = known.entries()
        print(f"people you have met ({known.path}): {len(people) or 'none yet'}")
        for name, fp in people:
            print(f"  {fp}  {name}")
    return 0

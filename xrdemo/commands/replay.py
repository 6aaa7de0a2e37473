"""``xrdemo replay``: play a meeting recording (``run --record`` / ``serve --record``) again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..validate import finite_float, folder_parent_exists, video_size
from .common import parse_size

HELP = "play a meeting recording again: in a headset, in a window, or headless to an MP4"
DESCRIPTION = """\
Relive a recorded meeting. `xrdemo run --join ... --record FILE` records the room as one
participant saw and heard it; `xrdemo serve --record DIR` records every room the server hosts.
Replay plays it on any platform:
  openxr    in a headset: the meeting around you, seen from --seat with your own head
  desktop   in a window (mouse look from --seat)
  headless  to an MP4 (video + binaural sound from --seat's eyes and ears), like `xrdemo record`
'auto' tries them in that order.

Replaying the recording participant's own seat gives the very frames of the live run: the same
code runs on the recorded inputs. --start jumps into the meeting: the index finds the point,
and the meeting's state is rebuilt by running everything before it without drawing or
sound (docs/replay.md says what that costs).

A damaged or cut-off file (the recorder crashed, a copy broke) plays everything intact, skipping
damaged parts, then says where each problem is and what is wrong (exit status 1). A file from a
newer xrdemo says so. --info describes a recording (and checks it) without playing it.

examples:
  xrdemo replay standup.xrrec --info
  xrdemo replay standup.xrrec --platform headless --video standup.mp4
  xrdemo replay standup.xrrec --seat 2 --start 60 --platform desktop
"""


def register(sub) -> None:
    p = sub.add_parser("replay", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, metavar="FILE", help="a recording (.xrrec)")
    p.add_argument("--seat", type=int, default=None, metavar="K",
                   help="whose eyes and ears (default: the recording participant's seat; for a server "
                        "recording the first taken seat)")
    p.add_argument("--start", type=finite_float, default=0.0, metavar="SECONDS",
                   help="start this many seconds into the recording (default 0)")
    p.add_argument("--platform", choices=("auto", "openxr", "desktop", "headless"), default="auto",
                   help="where to play it (default auto)")
    p.add_argument("--video", "--recording", dest="recording", type=Path, default=None, metavar="OUT.mp4",
                   help="where a headless replay writes its MP4 (default: FILE's name + -replay.mp4, here; "
                        "numbered -2, -3 ... if taken; --recording is the old name)")
    p.add_argument("--overwrite", action="store_true", help="replace --video if it exists (else: refuse)")
    p.add_argument("--frames-dir", type=Path, default=None, help="headless: also write every frame as PNG here")
    p.add_argument("--size", type=parse_size, default=None, metavar="WxH",
                   help="headless video size (default: the recorded configuration's, 640x360)")
    p.add_argument("--fps", type=int, default=None, help="headless frames per second (default: recorded config's)")
    p.add_argument("--no-audio", action="store_true", help="the picture only")
    p.add_argument("--info", action="store_true", help="describe the recording and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run, _parser=p)


def run(args) -> int:
    parser = args._parser
    if args.start < 0:
        parser.error(f"--start must be 0 or more seconds, not {args.start:g}")
    if args.seat is not None and args.seat < 0:
        parser.error(f"--seat must be 0 or more, not {args.seat}")
    if args.fps is not None and not 1 <= args.fps <= 240:
        parser.error(f"--fps must be between 1 and 240, not {args.fps}")
    if args.size is not None:
        video_size(*args.size, "--size")
    if args.frames_dir is not None:
        folder_parent_exists(args.frames_dir, "--frames-dir")
    if args.info:
        return info(args.file)
    if args.recording is not None and args.recording.suffix.lower() != ".mp4":
        raise ValueError(f"--video {args.recording} must end in .mp4")
    from ..replay.output import open_recording

    open_recording(args.file, args.start).close()      # a bad file or --start fails here, in one line
    platform_name = args.platform
    if platform_name != "headless":
        import os

        from ..platform.factory import create_platform

        if platform_name == "auto":
            os.environ.setdefault("XR_LOADER_DEBUG", "none")
        platform, reason = create_platform(platform_name, log=None)
        if platform.capabilities.name != "headless":
            from ..replay.output import replay_live

            print(f"xrdemo: replaying {args.file} on {reason}", flush=True)
            summary = replay_live(platform, args.file, seat=args.seat, start_s=args.start,
                                  audio=not args.no_audio, progress=not args.quiet)
            if summary.get("stopped"):
                print(f"xrdemo: stopped while fast-forwarding to {args.start:g} s", flush=True)
                return _report_damage(summary)
            print(f"xrdemo: showed {summary['seconds']:.1f} s of the meeting ({summary['frames']} frames) "
                  f"from seat {summary['seat']}", flush=True)
            return _report_damage(summary)
        platform.shutdown()
        print(f"xrdemo: no headset and no display, so replaying headless ({reason})", flush=True)
    from ..replay.output import replay_headless

    from ..outputs import claim_output, claimed

    made = args.recording is None
    out = claim_output(Path(args.file.stem + "-replay.mp4") if made else args.recording, default=made,
                       overwrite=args.overwrite, flag="--video")
    with claimed(out if made else None):
        summary = replay_headless(args.file, out, seat=args.seat, start_s=args.start, frames_dir=args.frames_dir,
                                  audio=not args.no_audio, size=args.size, fps=args.fps, progress=not args.quiet)
    print(f"xrdemo: wrote {out}: {summary['frames']} frames ({summary['seconds']:.1f} s at {summary['fps']} fps) "
          f"from seat {summary['seat']}"
          + (f", after fast-forwarding {summary['fast_forwarded']} frames" if summary["fast_forwarded"] else "")
          + (f"; {summary['held']} repeat the picture before, as the participant's video did (it fell "
             "behind real time there)" if summary.get("held") else ""),
          flush=True)
    return _report_damage(summary)


MAX_PROBLEMS_SHOWN = 5
IDENTITY_MARKS = {1: "\u2713", 0: "?", -1: "\u2717"}   # the name tags: verified, not verified, flagged


def _report_damage(summary: dict) -> int:
    """One line per problem found in the file (exit status 1), or nothing (0)."""
    problems = summary.get("problems") or []
    for p in problems[:MAX_PROBLEMS_SHOWN]:
        print(f"xrdemo replay: error: {p}", file=sys.stderr)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        print(f"xrdemo replay: ... and {len(problems) - MAX_PROBLEMS_SHOWN} more problems", file=sys.stderr)
    if problems:
        print("xrdemo replay: everything intact was played", file=sys.stderr, flush=True)
    return 1 if problems else 0


def info(path: Path) -> int:
    """Print what a recording holds: who, where, when, how long, the chunks and any damage."""
    from collections import Counter

    from ..replay import records as R
    from ..replay.fileformat import RecordingReader

    with RecordingReader(path) as r:
        m = r.meta
        kinds: Counter = Counter()
        seen: dict = {}                            # seat -> everyone who sat there, in order
        marks: dict = {}                           # (seat, name) -> the tags the participant saw
        current: list = []                         # the names by seat as of now
        for rec in r.records(skip_damaged=True):
            kinds[R.TYPE_NAMES.get(rec.rtype, str(rec.rtype))] += 1
            names = None
            if rec.rtype == R.NAMES:
                names = R.decode_json(rec.body)
            elif rec.rtype == R.STATE:
                names = R.decode_json(rec.body).get("names")
            elif rec.rtype == R.EVENT and m.get("kind") == "server":
                names = _signed_names(m, R.decode_json(rec.body))
            elif rec.rtype == R.VERIFIED and m.get("kind") != "server":
                _note_tags(rec.body, current, marks)
            if not isinstance(names, list):
                names = None
            elif rec.rtype != R.EVENT:
                current = names
            for seat, name in enumerate(names or ()):
                if isinstance(name, str) and name and name not in seen.setdefault(seat, []):
                    if m.get("kind") == "server" and rec.rtype == R.NAMES:
                        continue                   # (server recordings: names with their check)
                    seen[seat].append(name)
        print(f"{path}: xrdemo recording, format {r.version}, {m.get('kind', '?')} recording made "
              f"{m.get('created_utc', '?')} by {m.get('recorded_by', {}).get('user', '?')}@"
              f"{m.get('recorded_by', {}).get('host', '?')} with xrdemo {m.get('xrdemo_version', '?')}")
        if m.get("kind") == "server":
            print(f"  room {m.get('room')} at {m.get('server', '?')}, {m.get('capacity')} seats, "
                  "as the server forwarded it")
            if m.get("ciphertext_only"):
                print("  ciphertext only: a private room; poses and voices are encrypted under the "
                      "members' sender keys, which the server never had, so it cannot be played")
        elif m.get("room"):
            print(f"  room {m['room']} at {m.get('server', '?')}; seat {m.get('seat')} of {m.get('capacity')}"
                  + (f" as {m['name']!r}" if m.get("name") else ""))
        else:
            print(f"  a meeting with no network: {m.get('capacity')} people, recorded from seat {m.get('seat')}")
        if seen:
            def tagged(seat, name):
                tags = marks.get((seat, name))
                return f"{name} {'/'.join(tags)}" if tags else name

            print("  people by seat: " + "; ".join(f"{seat}: {', '.join(tagged(seat, n) for n in who)}"
                                                 for seat, who in sorted(seen.items())))
            if any("\u2717" in tags for tags in marks.values()):
                print("  \u2717: a name the participant knew arrived with a different key (see docs/identity.md)")
        print(f"  {r.duration_s:.1f} s in {len(r.chunks)} chunks ({'indexed' if r.indexed else 'scanned, no index'}); "
              + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
        for p in r.problems[:MAX_PROBLEMS_SHOWN]:
            print(f"xrdemo replay: error: {p}", file=sys.stderr)
        if r.problems:
            print("xrdemo replay: the intact parts are described above", file=sys.stderr)
            return 1
    return 0


def _note_tags(body: bytes, names: list, marks: dict) -> None:
    """Add the name tags of one VERIFIED record (a JSON list by seat: 1 / 0 / -1) to marks
    {(seat, name): [tag, ...]}; a body or value that is none of these is skipped."""
    from ..replay import records as R

    try:
        flags = R.decode_json(body)
    except ValueError:
        return
    if not isinstance(flags, list):
        return
    for seat, flag in enumerate(flags):
        if (type(flag) is int and flag in IDENTITY_MARKS and seat < len(names)
                and isinstance(names[seat], str) and names[seat]):
            tags = marks.setdefault((seat, names[seat]), [])
            if IDENTITY_MARKS[flag] not in tags:
                tags.append(IDENTITY_MARKS[flag])


def _signed_names(meta: dict, event: dict) -> list | None:
    """For a server recording's join: [..., "name ✓ FINGERPRINT" or "name (signature does not
    check out)"] at the seat, checked here (names listed by seat)."""
    from ..replay.server_record import verify_signed_join

    seat = event.get("seat")
    if event.get("type") != "joined" or not isinstance(seat, int) or not 0 <= seat < 64:
        return None
    name = str(event.get("name", ""))
    fp = verify_signed_join(meta.get("protocol", 0), str(meta.get("room", "")), name, event.get("id"))
    out = [""] * (seat + 1)
    out[seat] = f"{name} \u2713 {fp}" if fp else f"{name} (signature does not check out)"
    return out

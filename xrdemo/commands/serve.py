"""``xrdemo serve``: run a meeting server (rooms, seats, and the relay for poses and voice)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from ..net.protocol import DEFAULT_PORT, MAX_SEATS

HELP = "run a meeting server that people join with `xrdemo run --join HOST:PORT/ROOM`"
DESCRIPTION = f"""\
Run the meeting server: rooms with seats around the table, who is there, and the relay that
passes each person's head, hands and voice to everyone else in the room. It needs nothing beyond
xrdemo's own Python install. One port carries both the control channel (TCP) and the real-time
data (UDP): open it for both in a firewall.

People join from any machine (headset, desktop window or headless) with
  xrdemo run --join HOST:PORT/ROOM
for example `xrdemo run --join 192.168.1.20:{DEFAULT_PORT}/team`. A room is created by its first
visitor and disappears when the last one leaves. Someone who loses the connection, or whose
machine vanishes, is removed after --timeout seconds of silence; clients reconnect by themselves
(also after a server restart) and get their seat back.

Joins are signed: each person's identity key (`xrdemo id`) signs the server's challenge, every
datagram carries a MAC under a per-session key, and a display name belongs to the first key that
used it here (another key asking for it is refused) while the server runs.

With --record DIR, every room session is recorded (what the server forwarded: poses, voices,
who came and went) to DIR/<room>-<start time>.xrrec; `xrdemo replay FILE --seat K` plays it
from any seat.

Every ~10 s it prints one status line: rooms, members, packets per second in and out, and
dropped datagrams (malformed, unknown session, bad MAC, wrong address, replayed). Ctrl-C stops it.
"""


def register(sub) -> None:
    p = sub.add_parser("serve", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="0.0.0.0",
                   help="address to listen on (default 0.0.0.0: every IPv4 interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP and UDP port (default {DEFAULT_PORT}; 0 lets the system choose)")
    p.add_argument("--capacity", type=int, default=8, metavar="K",
                   help=f"seats per room, 1..{MAX_SEATS} (default 8)")
    p.add_argument("--timeout", type=float, default=3.0, metavar="S",
                   help="seconds of silence after which a member is removed (default 3)")
    p.add_argument("--status-every", type=float, default=10.0, metavar="S",
                   help="seconds between status lines (default 10)")
    p.add_argument("--record", type=Path, default=None, metavar="DIR",
                   help="record every room session into this folder (one .xrrec file each; "
                        "play with `xrdemo replay`)")
    p.set_defaults(func=run)
    p.set_defaults(_parser=p)


def run(args) -> int:
    parser = args._parser
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")
    if not 1 <= args.capacity <= MAX_SEATS:
        parser.error(f"--capacity must be 1..{MAX_SEATS}, got {args.capacity}")
    if args.timeout <= 0 or args.status_every <= 0:
        parser.error("--timeout and --status-every must be positive")
    if args.record is not None and not args.record.is_dir():
        raise FileNotFoundError(f"--record {args.record}: no such folder (create it first)")
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    print("server stopped", flush=True)
    return 0


async def _serve(args) -> None:
    from ..net.server import Server

    server = Server(host=args.host, port=args.port, capacity=args.capacity, timeout_s=args.timeout,
                    log=lambda msg: print(msg, flush=True))
    try:
        await server.start()
    except OSError as exc:
        raise OSError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"xrdemo server listening on {args.host}:{server.port} (TCP + UDP), "
          f"{args.capacity} seats per room; join with: xrdemo run --join HOST:{server.port}/ROOM",
          flush=True)
    if args.record is not None:
        from ..replay.server_record import ServerRecorder

        server.observer = ServerRecorder(args.record, f"{args.host}:{server.port}",
                                         log=lambda msg: print(msg, flush=True))
        print(f"recording every room to {args.record}", flush=True)
    try:
        last = _totals(server.stats())
        t_last = time.monotonic()
        while True:
            await asyncio.sleep(args.status_every)
            stats = server.stats()
            now = _totals(stats)
            t_now = time.monotonic()
            dt = max(t_now - t_last, 1e-6)
            print(status_line(stats, (now[0] - last[0]) / dt, (now[1] - last[1]) / dt), flush=True)
            last, t_last = now, t_now
    finally:
        await server.stop()
        if server.observer is not None:
            server.observer.close()


def _totals(stats: dict) -> tuple[int, int]:
    return (stats.get("packets_in", {}).get("all", 0), sum(stats.get("packets_out", {}).values()))


def status_line(stats: dict, in_per_s: float, out_per_s: float) -> str:
    """One line: rooms, members, packet rates, drops by reason."""
    drops = stats.get("drops", {})
    detail = ", ".join(f"{k} {v}" for k, v in sorted(drops.items())) if drops else "none"
    rooms, members = stats["rooms"], stats["members"]
    return (f"{rooms} room{'s' if rooms != 1 else ''}, {members} member{'s' if members != 1 else ''}, "
            f"{in_per_s:.0f} packets/s in, {out_per_s:.0f} out, drops: {sum(drops.values())} ({detail})")

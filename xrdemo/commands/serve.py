"""``xrdemo serve``: run a meeting server (rooms, seats, and the relay for poses and voice)."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from ..net.protocol import DEFAULT_PORT, MAX_SEATS
from ..validate import finite_float

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
used it here (another key asking for it, or for a look-alike, is refused) while the server runs,
or for good with --names FILE.

Every member has a fair share of poses, voice, control messages and profile changes; what goes
beyond it is dropped and counted. Connections per address and in all, rooms and seats are
limited, each refusal with its own message. --metrics [HOST:]PORT serves the counters for
Prometheus (http://HOST:PORT/metrics).

Rooms beyond one server: with --nats nats://HOST:4222 the server takes its traffic from a NATS
server (or cluster) instead of a port, and people join with
  xrdemo run --join nats://HOST:4222/ROOM
Start several `xrdemo serve --nats` processes on one NATS cluster (on any machines): each room is
served by exactly one of them, new rooms go to the least busy, and when one stops its rooms move
to the others (the people in them reconnect by themselves). See docs/nats.md.

With --private-rooms, every room on this server is private: each member encrypts its poses and
voice under a key of its own (a sender key, renewed whenever someone joins or leaves) that it
gives only to the others in the room, sealed for each under a key from the two people's signed
session keys. This server then forwards ciphertext it cannot read. See docs/identity.md for what
that protects against, and what not.

With --record DIR, every room session is recorded (what the server forwarded: poses, voices,
who came and went) to DIR/<room>-<start time>.xrrec; `xrdemo replay FILE --seat K` plays it
from any seat.

Every ~10 s it prints one status line: rooms, members, joins, packets per second in and out,
dropped datagrams (malformed, unknown session, bad MAC, wrong address, replayed), what went over
members' fair shares and who sent most, and refusals by reason. Ctrl-C stops it.
"""


def register(sub) -> None:
    p = sub.add_parser("serve", help=HELP, description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="0.0.0.0",
                   help="address to listen on (default 0.0.0.0: every IPv4 interface)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"TCP and UDP port (default {DEFAULT_PORT}; 0 lets the system choose)")
    p.add_argument("--nats", metavar="nats://HOST[:PORT]", default=None,
                   help="serve rooms over this NATS server instead of a port (comma-separated "
                        "nodes of one cluster; needs the nats-py package); --host/--port are unused")
    p.add_argument("--capacity", type=int, default=8, metavar="K",
                   help=f"seats per room, 1..{MAX_SEATS} (default 8)")
    p.add_argument("--timeout", type=finite_float, default=3.0, metavar="S",
                   help="seconds of silence after which a member is removed (default 3)")
    p.add_argument("--status-every", type=finite_float, default=10.0, metavar="S",
                   help="seconds between status lines (default 10)")
    p.add_argument("--metrics", metavar="[HOST:]PORT", default=None,
                   help="serve Prometheus metrics at http://HOST:PORT/metrics (joins, refusals, "
                        "rate-limited drops, members, rooms, bytes; HOST defaults to 127.0.0.1)")
    p.add_argument("--names", type=Path, default=None, metavar="FILE",
                   help="keep who owns which display name in FILE (appended to, read at start), so a "
                        "restart forgets nobody; without it the names are kept in memory while the server runs")
    p.add_argument("--private-rooms", action="store_true",
                   help="every room is private: poses and voices are end-to-end encrypted under keys "
                        "the members give each other (sender keys); this server forwards ciphertext it "
                        "cannot read, and its recordings hold ciphertext only (docs/identity.md)")
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
    if args.nats is not None:
        from ..net.protocol import parse_nats_url

        try:
            servers, room = parse_nats_url(args.nats, need_room=False)
        except ValueError as exc:
            parser.error(str(exc))
        if room:
            parser.error(f"--nats takes the NATS server, not a room: nats://HOST[:PORT], not {args.nats!r}")
        args.nats = servers
    if args.metrics is not None:
        host, _, port_text = args.metrics.rpartition(":")
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            parser.error(f"--metrics takes [HOST:]PORT, e.g. 9473 or 0.0.0.0:9473, not {args.metrics!r}")
        args.metrics = (host.strip("[]") or "127.0.0.1", int(port_text))
    if args.names is not None:
        from ..validate import folder_parent_exists

        folder_parent_exists(args.names, "--names")
        if args.names.is_dir():
            raise ValueError(f"--names {args.names} is a folder; give a file name")
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

    log = lambda msg: print(msg, flush=True)   # noqa: E731
    if args.nats:
        from ..net.nats_server import NatsServer

        server = NatsServer(args.nats, capacity=args.capacity, timeout_s=args.timeout, log=log,
                            names_path=args.names, private_rooms=args.private_rooms)
        await server.start()          # ConnectionError (an OSError) names the NATS address
        print(f"xrdemo server {server.server_id} serving rooms over NATS at {server.where}, "
              f"{args.capacity} seats per room; join with: xrdemo run --join "
              f"nats://{args.nats[0].rpartition('@')[2].removeprefix('nats://')}/ROOM", flush=True)
    else:
        server = Server(host=args.host, port=args.port, capacity=args.capacity,
                        timeout_s=args.timeout, log=log, names_path=args.names,
                        private_rooms=args.private_rooms)
        try:
            await server.start()
        except OSError as exc:
            raise OSError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
        print(f"xrdemo server listening on {args.host}:{server.port} (TCP + UDP), "
              f"{args.capacity} seats per room; join with: xrdemo run --join HOST:{server.port}/ROOM",
              flush=True)
    if args.private_rooms:
        print("rooms are private: poses and voices travel end-to-end encrypted (sender keys); "
              "this server forwards ciphertext it cannot read", flush=True)
    if args.metrics is not None:
        from ..net.metrics import snapshot_on_loop, start_metrics_server

        try:
            _httpd, mport = start_metrics_server(snapshot_on_loop(server, asyncio.get_running_loop()),
                                                 *args.metrics)
        except OSError as exc:
            raise OSError(f"--metrics: cannot listen on {args.metrics[0]}:{args.metrics[1]}: "
                          f"{exc.strerror or exc}") from None
        print(f"metrics at http://{args.metrics[0]}:{mport}/metrics", flush=True)
    if args.record is not None:
        from ..replay.server_record import ServerRecorder

        where = server.where if args.nats else f"{args.host}:{server.port}"
        server.observer = ServerRecorder(args.record, where, log=log, private=args.private_rooms)
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
            line = status_line(stats, (now[0] - last[0]) / dt, (now[1] - last[1]) / dt)
            if "peers" in stats:          # serving over NATS: the other room servers it hears
                line += f"; {stats['peers']} other room server{'s' if stats['peers'] != 1 else ''} on NATS"
            print(line, flush=True)
            last, t_last = now, t_now
    finally:
        await server.stop()
        if server.observer is not None:
            server.observer.close()


def _totals(stats: dict) -> tuple[int, int]:
    return (stats.get("packets_in", {}).get("all", 0), sum(stats.get("packets_out", {}).values()))


def status_line(stats: dict, in_per_s: float, out_per_s: float) -> str:
    """One line: rooms, members, packet rates, drops by reason, what went over fair shares (by
    kind, and the members who sent most over theirs)."""
    drops = stats.get("drops", {})
    detail = ", ".join(f"{k} {v}" for k, v in sorted(drops.items())) if drops else "none"
    rooms, members = stats["rooms"], stats["members"]
    joins = stats.get("control", {}).get("joins", 0)
    line = (f"{rooms} room{'s' if rooms != 1 else ''}, {members} member{'s' if members != 1 else ''}, "
            f"{joins} join{'s' if joins != 1 else ''}, "
            f"{in_per_s:.0f} packets/s in, {out_per_s:.0f} out, drops: {sum(drops.values())} ({detail})")
    limited = {k: v for k, v in stats.get("rate_limited", {}).items() if v}
    if limited:
        worst = sorted(stats.get("limited_members", {}).items(), key=lambda kv: -sum(kv[1].values()))[:3]
        line += ("; over fair share: " + ", ".join(f"{k} {v}" for k, v in sorted(limited.items()))
                 + (" (most: " + "; ".join(f"{who} {sum(c.values())}" for who, c in worst) + ")" if worst else ""))
    refused = {k: v for k, v in stats.get("refused", {}).items() if v}
    if refused:
        line += "; refused: " + ", ".join(f"{k} {v}" for k, v in sorted(refused.items()))
    return line

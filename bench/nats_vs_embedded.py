"""Rooms over NATS vs the embedded server: one-way latency and server CPU for 2 to 16 clients.

For each transport and room size, n participants sit in one room: n - 2 full participants
(``testing.simclients``: pose codec at ``--pose-hz``, silent) in worker processes, as on their own
machines, and two here: a sender (80-byte poses at ``--pose-hz`` and 100-byte voice frames
every 20 ms, each stamped inside its payload with time.monotonic_ns() at sending) and a
receiver, which takes (arrival - stamp) for every one it gets — the one-way latency through the
transport and the room server, on this machine's one clock. CPU: the room server's thread
(both transports) and, for NATS, the nats-server process too (from /proc), over the measured
seconds, in % of one core per client, and divided by the datagrams the room server forwarded
meanwhile (µs per forwarded datagram: the transport's cost, whatever rate the participants
managed). The embedded server runs first for each size and is the reference of the ratio
columns.

    PYTHONPATH=. .venv/bin/python bench/nats_vs_embedded.py [--seconds 6] [--clients 2 4 8 16]
        [--rooms normal private]

``--rooms private`` runs the same rows in private rooms (``serve --private-rooms``): every pose
and voice frame sealed by its sender under its sender key; the embedded server still MACs a
copy per recipient, the NATS room server publishes each sealed datagram once on the room's
fan-out subject. "Forwarded" counts datagrams delivered to members (a publish to n - 1 members
counts n - 1), so the µs column is server-side CPU per delivered datagram for both room kinds.

Needs the nats-server program (Debian package nats-server) and nats-py.
"""

from __future__ import annotations

import argparse
import os
import struct
import threading
import time

import numpy as np

from xrdemo.net.client import NetClient
from xrdemo.net.nats_server import NatsServerThread
from xrdemo.net.nats_transport import NatsClient
from xrdemo.net.natsd import NatsServerProcess
from xrdemo.net.server import ServerThread
from xrdemo.testing.simclients import run_in_processes

_STAMP = struct.Struct(">q")


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _forwarded(stats: dict) -> int:
    """Pose and voice datagrams (plain or sealed) the room server has delivered so far."""
    out = stats.get("packets_out", {})
    return sum(out.get(k, 0) for k in ("pose", "voice", "sealed_pose", "sealed_voice"))


def run(transport: str, n: int, seconds: float, pose_hz: float, private: bool = False) -> dict:
    natsd = None
    if transport == "nats":
        natsd = NatsServerProcess().start()
        server = NatsServerThread([natsd.url], capacity=max(n, 2), timeout_s=5.0,
                                  private_rooms=private).start()
        url = f"{natsd.url}/bench"

        def client(name):
            return NatsClient([natsd.url], "bench", name, timeout_s=5.0)
    else:
        server = ServerThread(port=0, capacity=max(n, 2), timeout_s=5.0, private_rooms=private).start()
        url = f"127.0.0.1:{server.port}/bench"

        def client(name):
            return NetClient("127.0.0.1", server.port, "bench", name, timeout_s=5.0)
    load = None
    sender = receiver = None
    try:
        if n > 2:
            results = []
            load = threading.Thread(target=lambda: results.extend(run_in_processes(
                url, n - 2, seconds + 5.0, processes=min(4, n - 2), talkers=0, pose_hz=pose_hz,
                listeners=0)))
            load.start()
            time.sleep(5.0)                               # the load has joined
        sender, receiver = client("sender"), client("receiver")
        lat = {"pose": [], "voice": []}
        measuring = threading.Event()

        def on_datagram(d):
            if measuring.is_set() and d.seat == sender.seat and len(d.payload) >= 8:
                lat[d.kind].append((d.arrival_ns - _STAMP.unpack_from(d.payload)[0]) / 1e6)

        receiver.on_datagram = on_datagram
        sender.connect(10)
        receiver.connect(10)
        warm = 1.0
        t0 = time.monotonic_ns()
        next_pose = next_voice = t0
        voice_seq = 0
        cpu0 = None
        while True:
            now = time.monotonic_ns()
            t = (now - t0) / 1e9
            if t >= seconds + warm:
                break
            if cpu0 is None and t >= warm:
                measuring.set()
                cpu0 = (server.cpu_seconds(), _proc_cpu_s(natsd.proc.pid) if natsd else 0.0)
                out0 = _forwarded(server.stats())
            if now >= next_pose:
                sender.send_pose(_STAMP.pack(time.monotonic_ns()) + bytes(72), now // 1_000_000)
                next_pose += int(1e9 / pose_hz)
            if now >= next_voice:
                sender.send_voice(voice_seq, now // 1_000_000, _STAMP.pack(time.monotonic_ns()) + bytes(92))
                voice_seq += 1
                next_voice += 20_000_000
            time.sleep(max(0.0, min(next_pose, next_voice) - time.monotonic_ns()) / 1e9)
        measuring.clear()
        cpu_server = server.cpu_seconds() - cpu0[0]
        cpu_nats = _proc_cpu_s(natsd.proc.pid) - cpu0[1] if natsd else 0.0
        forwarded = _forwarded(server.stats()) - out0
    finally:
        for c in (sender, receiver):
            if c is not None:
                c.close()
        if load is not None:
            load.join(timeout=seconds + 120)
            for r in results:
                if r.get("error"):
                    print(f"({transport}, {n} clients: a load worker failed: "
                          f"{r['error'].strip().splitlines()[-1]})", flush=True)
        server.stop()
        if natsd is not None:
            natsd.stop()
    expected = {"pose": seconds * pose_hz, "voice": seconds * 50}
    out = {"transport": transport, "clients": n, "room": "private" if private else "normal",
           "server_cpu_pct_per_client": 100 * cpu_server / seconds / n,
           "nats_cpu_pct_per_client": 100 * cpu_nats / seconds / n,
           "forwarded_per_s": forwarded / seconds,
           "us_per_forwarded": 1e6 * (cpu_server + cpu_nats) / max(forwarded, 1),
           "room_us_per_forwarded": 1e6 * cpu_server / max(forwarded, 1)}
    for kind, values in lat.items():
        v = np.array(values) if values else np.array([np.nan])
        out[f"{kind}_ms"] = float(np.median(v))
        out[f"{kind}_p95_ms"] = float(np.percentile(v, 95))
        out[f"{kind}_received_pct"] = 100 * len(values) / expected[kind]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=6.0, help="measured seconds per row (default 6)")
    ap.add_argument("--clients", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--pose-hz", type=float, default=60.0)
    ap.add_argument("--rooms", nargs="+", choices=("normal", "private"), default=["normal"],
                    help="room kinds to measure (default: normal)")
    args = ap.parse_args()
    print(f"one room, n clients (n - 2 silent full participants in worker processes, poses at "
          f"{args.pose_hz:g} Hz); {args.seconds:g} s per row; one-way = arrival - send stamp")
    print("| clients | room | transport | pose one-way ms (median / p95) | voice one-way ms (median / p95) | "
          "received % (pose / voice) | delivered datagrams/s | room server CPU % per client | "
          "nats-server CPU % per client | room server µs per delivered datagram | "
          "server-side µs per delivered datagram | "
          "latency ratio (median pose) | CPU ratio (µs per datagram) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in args.clients:
        ref = None
        for room in args.rooms:
            for transport in ("embedded", "nats"):
                r = run(transport, n, args.seconds, args.pose_hz, private=room == "private")
                if ref is None:
                    ref = (r["pose_ms"], r["us_per_forwarded"])
                _row(n, room, transport, r, ref)


def _row(n, room, transport, r, ref) -> None:
    print(f"| {n} | {room} | {transport} | {r['pose_ms']:.2f} / {r['pose_p95_ms']:.2f} | "
          f"{r['voice_ms']:.2f} / {r['voice_p95_ms']:.2f} | "
          f"{r['pose_received_pct']:.0f} / {r['voice_received_pct']:.0f} | "
          f"{r['forwarded_per_s']:.0f} | {r['server_cpu_pct_per_client']:.2f} | "
          f"{r['nats_cpu_pct_per_client']:.2f} | {r['room_us_per_forwarded']:.1f} | {r['us_per_forwarded']:.1f} | "
          f"{r['pose_ms'] / ref[0]:.2f} | {r['us_per_forwarded'] / ref[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()

"""Networked meetings: bytes per second per participant, mouth-to-ear latency and server CPU per
client, for 2 to 16 clients on loopback (the embedded server in this process's thread).

Every participant is a full NetMeeting (pose codec at ``--pose-hz``, Opus voice). Two of them
run here: a talker, who sends a click every 0.5 s through its voice path, and a listener, who
plays what arrives through RemoteVoices in real time (256-sample blocks); the click's arrival is
found in the played samples. The other n - 2 are silent participants in worker processes
(``testing.simclients``), as they would be on their own machines. Bytes are the talker's and the
listener's own counters (UDP + TCP payload, without IP/UDP headers). The number reported
adds, on top of that measured path (capture framing + Opus + server + jitter buffer), the live
output path of this app as configured (render-ahead blocks + one device period) — stated, not
measured here, as this machine has no sound card.

    PYTHONPATH=. .venv/bin/python bench/net.py [--seconds 6] [--clients 2 4 8 16]
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np

from xrdemo.audio.realtime import DEFAULT_AHEAD
from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.net.room_audio import RemoteVoices
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting
from xrdemo.testing.simclients import run_in_processes

RATE, BLOCK = 48000, 256


def run(n: int, seconds: float, pose_hz: float) -> dict:
    """n participants: a talker (clicks) and a listener here, n - 2 silent ones in worker processes."""
    server = ServerThread(port=0, capacity=max(n, 2))
    server.start()
    url = f"127.0.0.1:{server.port}/bench"
    load = None
    if n > 2:
        results = []
        load = threading.Thread(target=lambda: results.extend(run_in_processes(
            url, n - 2, seconds + 4.0, processes=min(4, n - 2), talkers=0, pose_hz=pose_hz, listeners=0)))
        load.start()
        time.sleep(4.0)                              # the load has joined
    talker = NetMeeting(url, "talker", log=lambda *_: None, pose_hz=pose_hz)
    listener = NetMeeting(url, "listener", log=lambda *_: None, pose_hz=pose_hz)
    try:
        for c in (talker, listener):
            c.connect(timeout_s=10)
        voices = RemoteVoices(listener.capacity, local=listener.seat)
        listener.voice_sink = voices.push
        rest = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 0]])
        click_every = RATE // 2
        warm = 1.0
        t0 = time.monotonic_ns()
        sent, pulled, played = 0, 0, []
        base = cpu0 = None
        while True:
            now = time.monotonic_ns()
            t = (now - t0) / 1e9
            if t >= seconds + warm:
                break
            if base is None and t >= warm:
                base = (talker.stats(), listener.stats())
                cpu0 = server.cpu_seconds()
            due = int(t * RATE)
            for i, c in enumerate((talker, listener)):
                head = np.array([0.0, 1.2, 0.0]) + 0.03 * np.sin(t + i)
                c.send_pose(head, P.quat_from_yaw_pitch_roll(0.1 * i), rest + head, [True, True], 0.5, -1,
                            now_ns=now)
            idx = np.arange(sent, due)                    # the click train: silence between clicks
            x = np.where(idx % click_every < 48, 0.8, 0.0).astype(np.float32)
            talker.send_voice(x, ((t0 + sent * 1_000_000 // 48) // 1_000_000) & 0xFFFFFFFF)
            sent = due
            while (pulled + 1) * BLOCK <= due:
                out, _ = voices.next_block(None, now)
                played.append((pulled * BLOCK, out[talker.seat].copy()))
                pulled += 1
            time.sleep(0.004)
        cpu = server.cpu_seconds() - cpu0
        after = (talker.stats(), listener.stats())
    finally:
        talker.close()
        listener.close()
        if load is not None:
            load.join(timeout=seconds + 120)
        server.stop()

    def rate(k, key):
        return (after[k].get(key, 0) - base[k].get(key, 0)) / seconds

    starts = np.array([s for s, _ in played])
    env = np.abs(np.concatenate([x for _, x in played]))
    lat = []
    for k in range(int(warm * 2) + 1, int((seconds + warm) * 2) - 1):
        search_from = k * click_every - starts[0]
        hit = np.flatnonzero(env[search_from:search_from + RATE // 2] > 0.2)
        if hit.size:   # the block holding the hit was taken one block after its first sample was due
            lat.append((hit[0] + BLOCK) / RATE * 1000.0)
    return {"clients": n, "up_talking": rate(0, "bytes_sent"), "up_silent": rate(1, "bytes_sent"),
            "down": rate(1, "bytes_received"), "server_cpu_pct_per_client": 100 * cpu / seconds / n,
            "net_to_ear_ms": float(np.median(lat)) if lat else np.nan,
            "net_to_ear_p95_ms": float(np.percentile(lat, 95)) if lat else np.nan}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--pose-hz", type=float, default=60.0)
    args = ap.parse_args()
    output_ms = 1000.0 * (DEFAULT_AHEAD + 1) * BLOCK / RATE
    print(f"pose updates {args.pose_hz:g} Hz, voice Opus 20 ms frames; {args.seconds:g} s per row; "
          f"mouth-to-ear = measured path + {output_ms:.1f} ms live output (render-ahead {DEFAULT_AHEAD} "
          f"blocks + 1 device period)")
    print(f"| clients | up B/s talking | up B/s silent | down B/s (one talker) | server CPU % per client | "
          f"measured ms (median / p95) | mouth-to-ear ms |")
    print("|---|---|---|---|---|---|---|")
    for n in args.clients:
        r = run(n, args.seconds, args.pose_hz)
        print(f"| {n} | {r['up_talking']:.0f} | {r['up_silent']:.0f} | {r['down']:.0f} | "
              f"{r['server_cpu_pct_per_client']:.2f} | {r['net_to_ear_ms']:.1f} / {r['net_to_ear_p95_ms']:.1f} | "
              f"{r['net_to_ear_ms'] + output_ms:.1f} |")


if __name__ == "__main__":
    main()

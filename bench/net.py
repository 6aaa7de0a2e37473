"""Networked meetings: bytes per second per participant, mouth-to-ear latency and server CPU per
client, for 2 to 16 clients on loopback (the embedded server in this process's thread).

Every client is a full NetMeeting (pose codec at ``--pose-hz``, Opus voice); ``--talkers`` of
them talk the whole time (the worst case for bytes). Mouth-to-ear: client 0 sends a click every
0.5 s through its voice path; client 1 plays what arrives through RemoteVoices in real time
(256-sample blocks) and the click's arrival is found in the played samples. The number reported
adds, on top of that measured path (capture framing + Opus + server + jitter buffer), the live
output path of this app as configured (render-ahead blocks + one device period) — stated, not
measured here, as this machine has no sound card.

    PYTHONPATH=. .venv/bin/python bench/net.py [--seconds 6] [--clients 2 4 8 16]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from xrdemo.audio.realtime import DEFAULT_AHEAD
from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.net.room_audio import RemoteVoices
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting

RATE, BLOCK = 48000, 256


def run(n: int, seconds: float, pose_hz: float, talkers: int) -> dict:
    server = ServerThread(port=0, capacity=max(n, 2))
    server.start()
    clients, voices = [], []
    try:
        for i in range(n):
            net = NetMeeting(f"127.0.0.1:{server.port}/bench", f"c{i}", log=lambda *_: None, pose_hz=pose_hz)
            net.connect(timeout_s=10)
            v = RemoteVoices(net.capacity, local=net.seat)
            net.voice_sink = v.push
            clients.append(net)
            voices.append(v)
        rest = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 0]])
        rng = np.random.default_rng(0)
        speech = (0.1 * rng.standard_normal(RATE)).astype(np.float32)
        click_every = RATE // 2
        t0 = time.monotonic_ns()
        cpu0 = server.cpu_seconds()
        sent = [0] * n
        pulled = 0
        played = []                     # (block start sample on the listener's clock, samples)
        warm = 1.0
        base = [c.stats() for c in clients]
        while True:
            now = time.monotonic_ns()
            t = (now - t0) / 1e9
            if t >= seconds + warm:
                break
            if t >= warm and base is not None and t - warm < 0.05:
                base = [c.stats() for c in clients]
                cpu0 = server.cpu_seconds()
            due = int(t * RATE)
            for i, net in enumerate(clients):
                head = np.array([0.0, 1.2, 0.0]) + 0.03 * np.sin(t + i)
                net.send_pose(head, P.quat_from_yaw_pitch_roll(0.1 * i), rest + head, [True, True], 0.5, -1,
                              now_ns=now)
                if i < talkers or i == 0:
                    idx = np.arange(sent[i], due)
                    if i == 0:          # the click train (silence between clicks)
                        x = np.where(idx % click_every < 48, 0.8, 0.0).astype(np.float32)
                    else:
                        x = speech[idx % len(speech)]
                    net.send_voice(x, ((t0 + sent[i] * 1_000_000 // 48) // 1_000_000) & 0xFFFFFFFF)
                    sent[i] = due
            if n > 1:
                listener = voices[1]
                while (pulled + 1) * BLOCK <= due:
                    out, _ = listener.next_block(None, now)
                    seat0 = clients[0].seat
                    played.append((pulled * BLOCK, out[seat0].copy()))
                    pulled += 1
            time.sleep(0.004)
        cpu = server.cpu_seconds() - cpu0
        after = [c.stats() for c in clients]
    finally:
        for c in clients:
            c.close()
        server.stop()
    up = np.mean([a.get("bytes_sent", 0) - b.get("bytes_sent", 0) for a, b in zip(after, base)]) / seconds
    down = np.mean([a.get("bytes_received", 0) - b.get("bytes_received", 0) for a, b in zip(after, base)]) / seconds
    latency = np.nan
    if played:
        starts = np.array([s for s, _ in played])
        audio = np.concatenate([x for _, x in played])
        env = np.abs(audio)
        lat = []
        for k in range(int(warm * 2) + 1, int((seconds + warm) * 2) - 1):
            click = k * click_every
            search_from = click - starts[0]
            if search_from < 0:
                continue
            window = env[search_from:search_from + RATE // 2]
            hit = np.flatnonzero(window > 0.2)
            if hit.size:   # the block holding the hit was taken one block after its first sample was due
                lat.append((hit[0] + BLOCK) / RATE * 1000.0)
        latency = float(np.median(lat)) if lat else np.nan
    return {"clients": n, "up_Bps": up, "down_Bps": down, "server_cpu_pct_per_client": 100 * cpu / seconds / n,
            "net_to_ear_ms": latency}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--clients", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--pose-hz", type=float, default=60.0)
    ap.add_argument("--talkers", type=int, default=1, help="clients talking all the time (besides the clicks)")
    args = ap.parse_args()
    output_ms = 1000.0 * (DEFAULT_AHEAD + 1) * BLOCK / RATE
    print(f"pose updates {args.pose_hz:g} Hz, voice Opus 20 ms frames; {args.seconds:g} s per row; "
          f"mouth-to-ear = measured path + {output_ms:.1f} ms live output (render-ahead {DEFAULT_AHEAD} "
          f"blocks + 1 device period)")
    print(f"{'clients':>7} | {'up B/s':>8} | {'down B/s':>9} | {'server CPU %/client':>19} | "
          f"{'measured ms':>11} | {'mouth-to-ear ms':>15}")
    for n in args.clients:
        r = run(n, args.seconds, args.pose_hz, args.talkers)
        print(f"{n:>7} | {r['up_Bps']:>8.0f} | {r['down_Bps']:>9.0f} | {r['server_cpu_pct_per_client']:>19.2f} | "
              f"{r['net_to_ear_ms']:>11.1f} | {r['net_to_ear_ms'] + output_ms:>15.1f}")


if __name__ == "__main__":
    main()

"""Pose codec and pose buffer benchmark: µs per call, bytes per update and per second.

    PYTHONPATH=. python bench/pose_codec.py [--rounds 5] [--frames 600]

Rows: encode_pose and decode_pose of both hands (random blends at random wrist poses),
PoseBuffer.push and PoseBuffer.at (a 60 Hz stream with 30 ms jitter and 5 % loss sampled at
90 Hz). Times are CPU time (time.process_time, so other processes on a shared machine count
less), medians over ``--rounds`` rounds. A reference row (hands.blend_poses of two hands, same
process) gives the ratio column, so that runs on busier or faster machines can be compared. The
load columns are the CPU share of one sender (encode at 30/60 Hz) and of one receiver of 15
people (decode + push at 30/60 Hz, at() at 90 Hz).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.net import posecodec as C
from xrdemo.net.posebuffer import PoseBuffer

# bench/ is on sys.path as the script's folder
from timing import median_us_per_call

LEFT = np.array([True, False])
HEADER = 8                      # transport header bytes per datagram (protocol.py)


def cpu_us(fn, items, rounds):
    """Median over rounds of the mean CPU µs per call of fn(item) over items."""
    return median_us_per_call(fn, items, rounds, clock=time.process_time)


def samples(n, rng):
    local = H.blend_poses(rng.random((2 * n, len(H.POSE_NAMES))) ** 4)
    out = []
    for i in range(n):
        head = np.array([rng.uniform(-2, 2), 1.6, rng.uniform(-2, 2)])
        joints = H.hands_to_stage(head + rng.uniform(-0.6, 0.6, (2, 3)), P.normalize(rng.normal(size=(2, 4))),
                                  local[2 * i:2 * i + 2], LEFT)
        out.append(C.PoseSample(head, P.normalize(rng.normal(size=4)), joints, np.array([True, True]),
                                float(rng.random()), -1))
    return out


def stream(sample_list, rng, seconds=4.0):
    """(arrival_ns, t_ms, sample) of a 60 Hz stream, 30 ms jitter, 5 % loss, in arrival order."""
    out = []
    for i in range(int(seconds * 60)):
        if rng.random() < 0.05:
            continue
        t_ns = int(i * 1e9 / 60)
        out.append((t_ns + int((20 + rng.uniform(0, 60)) * 1e6), t_ns // 1_000_000, sample_list[i % len(sample_list)]))
    return sorted(out, key=lambda p: p[0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=600)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    poses = samples(args.frames, rng)
    payloads = [C.encode_pose(s) for s in poses]
    weights = rng.random((args.frames, 2, len(H.POSE_NAMES)))

    ref = cpu_us(lambda w: H.blend_poses(w), weights, args.rounds)
    enc = cpu_us(C.encode_pose, poses, args.rounds)
    dec = cpu_us(C.decode_pose, payloads, args.rounds)

    packets = stream(poses, rng)
    push_times, at_times = [], []
    for _ in range(args.rounds):
        buf = PoseBuffer()
        frames = range(0, int(4e9), int(1e9 / 90))
        k, t_push, n_push, t_at = 0, 0.0, 0, 0.0
        for f in frames:
            t0 = time.process_time()
            while k < len(packets) and packets[k][0] <= f:
                arrival, t_ms, s = packets[k]
                buf.push(s, t_ms, arrival)
                k += 1
                n_push += 1
            t1 = time.process_time()
            buf.at(f)
            t2 = time.process_time()
            t_push += t1 - t0
            t_at += t2 - t1
        push_times.append(t_push / max(n_push, 1) * 1e6)
        at_times.append(t_at / len(frames) * 1e6)
    push, at = statistics.median(push_times), statistics.median(at_times)

    print(f"{'operation':34s} {'µs':>8s} {'ratio':>7s}")
    for name, us in [("reference: blend_poses (2 hands)", ref), ("encode_pose (both hands)", enc),
                     ("decode_pose (both hands)", dec), ("PoseBuffer.push", push), ("PoseBuffer.at", at)]:
        print(f"{name:34s} {us:8.1f} {us / ref:7.2f}")
    print()
    size = C.payload_size(True, True)
    print(f"payload bytes: both hands {size}, one hand {C.payload_size(True, False)}, "
          f"no hands {C.payload_size(False, False)}; hand shape {len(C.encode_shape(C.TYPICAL_SHAPE))} (once)")
    for hz in (30, 60):
        print(f"{hz} Hz: {(size + HEADER) * hz} B/s per sender per receiver; CPU: sender "
              f"{enc * hz / 1e4:.2f} %, receiver of 15 people "
              f"{(15 * hz * (dec + push) + 15 * 90 * at) / 1e4:.2f} % of one core")
    face_table(poses, rng, args.rounds)
    return 0


def face_table(poses, rng, rounds):
    """Gaze and expressions on the wire (issue 14): in the pose update at 60 Hz, or the face in its
    own datagram at a lower rate; whole datagrams (header, payload, MAC) up (client -> server)."""
    from xrdemo.core.expressions import EXPRESSION_COUNT
    from xrdemo.net import facecodec as F
    from xrdemo.net import protocol as PR

    for s in poses:
        s.gaze = P.normalize(np.array([rng.uniform(-0.4, 0.4), rng.uniform(-0.3, 0.3), -1.0]))
        s.vergence_deg = float(rng.uniform(0, 12))
        s.face = rng.random(EXPRESSION_COUNT).astype(np.float32)
    full = [C.encode_pose(s) for s in poses]
    enc = cpu_us(C.encode_pose, poses, rounds)
    dec = cpu_us(C.decode_pose, full, rounds)
    wrap = PR.CLIENT_HEADER + PR.MAC_BYTES
    pose = C.payload_size(True, True) + wrap
    gaze = C.payload_size(True, True, True, False) + wrap
    both = C.payload_size(True, True, True, True) + wrap
    own = (8 + sum(F.FACE_WIDTHS) + 7) // 8 + wrap        # a version byte + the weights, own datagram
    print()
    print(f"{'gaze + 20 expressions (both hands)':44s} {'datagram B':>10s} {'B/s':>7s} {'pkt/s':>6s} "
          f"{'+IPv4/UDP B/s':>13s}")
    rows = [("pose only (format 1 size), 60 Hz", pose, pose * 60, 60),
            ("pose + gaze, 60 Hz", gaze, gaze * 60, 60),
            ("pose + gaze + face in one, 60 Hz (chosen)", both, both * 60, 60),
            ("pose + gaze 60 Hz, face own datagram 30 Hz", f"{gaze}+{own}", gaze * 60 + own * 30, 90),
            ("pose + gaze 60 Hz, face own datagram 15 Hz", f"{gaze}+{own}", gaze * 60 + own * 15, 75)]
    for name, b, bps, pps in rows:
        print(f"{name:44s} {b!s:>10s} {bps:7d} {pps:6d} {bps + 28 * pps:13d}")
    print(f"encode / decode with gaze + face: {enc:.1f} / {dec:.1f} µs per update")


if __name__ == "__main__":
    raise SystemExit(main())

"""Meeting recordings: file size, the cost of recording, and how fast a replay fast-forwards.

A participant's recording of a room of n people is synthesised the way ``run --record`` writes
it (a 72 Hz frame loop with tracked head and hands, n - 1 remote people sending 60 pose updates
and 50 Opus-sized voice frames a second), through the real ``Recorder``; then it is replayed
without drawing (what ``--start`` does before the start point) with ``Replayer``. The reference
run, in the same process, is the core step alone on the same inputs: the ratio says what the
replay machinery (file reading, pose decoding, jitter buffers) adds to the core.

    PYTHONPATH=. .venv/bin/python bench/replay.py [--seconds 20] [--people 2 4 8 16]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from xrdemo.config import Config
from xrdemo.core import hands as H
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.net import posecodec as PC
from xrdemo.meetings import RoomShape, meeting_state
from xrdemo.replay import records as R
from xrdemo.replay.capture import Recorder, base_meta
from xrdemo.replay.fileformat import RecordingReader
from xrdemo.replay.player import Replayer

FPS, POSE_HZ, VOICE_HZ = 72, 60, 50
NS = 1_000_000_000


def synthesise(path: Path, n: int, seconds: float) -> tuple[float, int]:
    """Write a recording; returns (CPU µs per frame spent recording — the recorder's calls plus
    the writer thread's compressing and writing, as process CPU time — and frames)."""
    rng = np.random.default_rng(n)
    cfg = replace(Config(), meeting=replace(Config().meeting, people=n, seat=0))
    state = meeting_state(cfg, RoomShape(n, 0))
    rec = Recorder(path)
    t0 = 1_000 * NS
    rec.open(base_meta("participant", room="bench", server="synthetic", seat=0, capacity=n, t0_ns=t0))
    names = ["me"] + [f"p{k}" for k in range(1, n)]
    rec.add(R.STATE, t0, R.encode_json({"config": {"meeting": {"people": n, "seat": 0}}, "networked": True,
                                        "capacity": n, "seat": 0, "names": names, "present": [True] * n,
                                        "in_room": list(range(1, n))}))
    rec.add(R.NAMES, t0, R.encode_json(names))
    rest = H.blend_poses(np.eye(len(H.POSE_NAMES))[[0, 0]])
    frames = int(seconds * FPS)
    not_recording = 0.0                             # CPU spent making the synthetic traffic
    next_pose = np.zeros(n)
    next_voice = np.zeros(n)
    voice = rng.bytes(70)
    c_start = time.process_time()
    for k in range(frames):
        t = t0 + k * NS // FPS
        for s in range(1, n):                           # what arrived since the last frame
            while next_pose[s] * NS <= t - t0:
                c1 = time.process_time()
                head = state.seat_pos[s] + [0.02 * np.sin(next_pose[s] + s), 0, 0]
                sample = PC.PoseSample(head, P.quat_from_yaw_pitch_roll(0.2 * np.sin(next_pose[s])),
                                       rest + head - [0, 0.4, 0.3], np.array([True, True]), 0.3, -1)
                payload = PC.encode_pose(sample)
                not_recording += time.process_time() - c1
                rec.add(R.POSE, t, R.encode_datagram(s, k, int(next_pose[s] * 1000), payload))
                next_pose[s] += 1 / POSE_HZ
            while next_voice[s] * NS <= t - t0:
                rec.add(R.VOICE, t, R.encode_datagram(s, k, int(next_voice[s] * 1000), voice))
                next_voice[s] += 1 / VOICE_HZ
        c1 = time.process_time()
        inputs = S.LocalInput(head_pos=state.seat_pos[0] + [0, 0, 0.01 * np.sin(k / 30)],
                              head_rot=P.quat_from_yaw_pitch_roll(0.1 * np.sin(k / 40)),
                              joints=(rest + state.seat_pos[0] - [0, 0.4, 0.3]).astype(np.float32).astype(float),
                              valid=np.ones((2, 26), bool), mic_level=0.2)
        not_recording += time.process_time() - c1
        rec.add(R.READ, t, b"")
        rec.frame(t, inputs, t_ns=t)
    rec.close()                                     # waits for the writer thread
    cpu = time.process_time() - c_start - not_recording
    return cpu / frames * 1e6, frames


def replay_cost(path: Path) -> tuple[float, float, int]:
    """(replay CPU ms per frame, core step alone ms per frame, frames)."""
    with RecordingReader(path) as r:
        c0 = time.process_time()
        frames, seen = [], 0
        for f in Replayer(r).frames():
            frames.append((f.inputs, f.step_t_ns))
            seen = max(seen, int(f.inputs.remote.present.sum()))
        replay = time.process_time() - c0
        assert seen == r.meta["capacity"] - 1, f"the replay saw {seen} remote people"
        r2 = RecordingReader(path)
    # reference: the core step on the very same inputs, nothing else
    with r2:
        rep = Replayer(r2)
        it = rep.frames()
        next(it)
        state = rep.state
    c0 = time.process_time()
    for inputs, t in frames[1:]:
        state, _scene = S.step(state, inputs, t)
    core = time.process_time() - c0
    n = len(frames)
    return replay / n * 1e3, core / max(n - 1, 1) * 1e3, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--people", type=int, nargs="+", default=[2, 4, 8, 16])
    args = ap.parse_args()
    print(f"participant recording at {FPS} Hz frames, remote poses {POSE_HZ} Hz, voice {VOICE_HZ} frames/s, "
          f"{args.seconds:g} s each")
    print(f"{'people':>6} | {'file kB/s':>9} | {'MB/hour':>8} | {'record CPU µs/frame':>15} | "
          f"{'replay ms/frame':>15} | {'core ms/frame':>13} | {'replay/core':>11} | {'fast-forward x real time':>24}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.people:
            path = Path(tmp) / f"bench{n}.xrrec"
            rec_us, frames = synthesise(path, n, args.seconds)
            size = path.stat().st_size
            replay_ms, core_ms, got = replay_cost(path)
            assert got == frames, (got, frames)
            per_s = size / args.seconds
            speed = (1000.0 / FPS) / replay_ms
            print(f"{n:>6} | {per_s / 1000:9.1f} | {per_s * 3600 / 1e6:8.0f} | {rec_us:19.0f} | "
                  f"{replay_ms:15.3f} | {core_ms:13.3f} | {replay_ms / core_ms:11.2f} | {speed:24.1f}")


if __name__ == "__main__":
    main()

"""``xrdemo audio-demo``: binaural voices around the table while the listener's head turns.

Headless by default (a stereo WAV, listen on headphones); ``--play`` plays it live through the
sound device (falls back to the WAV file, then to nothing, saying why).
"""

from __future__ import annotations

import time

import numpy as np

from xrdemo.audio.engine import SpatialAudioEngine, whisper_gains
from xrdemo.audio.voices import VoiceActivity, load_voices, voice_track
from xrdemo.core.pose import quat_from_yaw_pitch_roll
from xrdemo.core.room import SEAT_CLEARANCE, Table, seat_layout

SAMPLE_RATE = 48000
BLOCK = 256
TABLE = Table(shape="round", radius=1.1 - SEAT_CLEARANCE)   # heads 1.1 m from the centre
TABLE_HEIGHT = TABLE.height


class TableScene:
    """Four scripted people and the listener around a round table; time is an argument."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.seats, _ = seat_layout(TABLE, 5)                   # seat 0 is the listener
        clips = load_voices(SAMPLE_RATE)
        total = int(seconds * SAMPLE_RATE) + BLOCK
        self.tracks = np.stack([voice_track(c, total, offset=int(0.7 * i * SAMPLE_RATE), gap=int(1.2 * SAMPLE_RATE))
                                for i, c in enumerate(clips)])

    def listener_pose(self, t: float):
        """Head at seat 0 facing the table centre, turning +-60 degrees (one cycle per 8 s)."""
        yaw = np.radians(60.0) * np.sin(2.0 * np.pi * t / 8.0)
        return self.seats[0], quat_from_yaw_pitch_roll(yaw)

    def speaker_heads(self, t: float) -> np.ndarray:
        """(5, 3) head positions; from 60 % of the way on, the person at seat 4 (on our left) leans in to
        whisper to us."""
        heads = self.seats.copy()
        lean = np.clip((t / self.seconds - 0.6) * 8.0, 0.0, 1.0)
        heads[4] += lean * 0.75 * (self.seats[0] - self.seats[4])
        return heads

    def voices(self, index: int) -> np.ndarray:
        return self.tracks[:, index * BLOCK:(index + 1) * BLOCK]


def render(seconds: float, sink, reflections: bool, progress=None) -> dict:
    scene = TableScene(seconds)
    engine = SpatialAudioEngine(SAMPLE_RATE, BLOCK, reflections=reflections, table_height=TABLE_HEIGHT)
    activity = VoiceActivity(4, BLOCK / SAMPLE_RATE)
    blocks = int(seconds * SAMPLE_RATE / BLOCK)
    speaking_blocks = np.zeros(4, dtype=int)
    for k in range(blocks):
        t = k * BLOCK / SAMPLE_RATE
        heads = scene.speaker_heads(t)
        engine.set_sources(heads[1:], np.full(4, 0.5))
        engine.set_whisper_gains(whisper_gains(heads)[1:, 0])
        engine.set_listener(*scene.listener_pose(t))
        voices = scene.voices(k)
        sink.write(engine.process(voices))
        speaking_blocks += activity.update(voices)[1]
        if progress:
            progress(k, blocks)
    return {"blocks": blocks, "speaking_share": speaking_blocks / blocks,
            "limiter_blocks": engine.limiter.engaged_blocks if engine.limiter else 0}


def _play(args) -> int:
    from xrdemo.audio.handoff import PoseHandoff
    from xrdemo.audio.io import BlockRenderer, open_live_output, warn

    scene = TableScene(args.seconds)
    engine = SpatialAudioEngine(SAMPLE_RATE, BLOCK, reflections=args.reflections, table_height=TABLE_HEIGHT)
    engine.set_sources(scene.seats[1:], np.full(4, 0.5))
    handoff = PoseHandoff(*scene.listener_pose(0.0))
    counter = {"k": 0}

    def sources(out):
        k = counter["k"]
        out[:] = scene.voices(k) if (k + 1) * BLOCK <= scene.tracks.shape[1] else 0.0
        counter["k"] = k + 1

    sink, message = open_live_output(BlockRenderer(engine, handoff, sources), fallback_wav=args.out)
    warn(message)
    if sink.kind != "sounddevice":  # fall back to offline rendering into the sink
        stats = render(args.seconds, sink, args.reflections)
        sink.close()
        print(f"rendered {stats['blocks']} blocks")
        return 0
    sink.start()
    start = time.monotonic()
    try:
        while (elapsed := time.monotonic() - start) < args.seconds:
            handoff.publish(*scene.listener_pose(elapsed))  # the "render loop" side of the handoff
            time.sleep(1.0 / 90.0)
    finally:
        sink.stop()
    stats = sink.stats()
    print(f"played {stats['callbacks']} blocks, {stats['underruns']} underruns")
    return 0


def _handler(args) -> int:
    if args.seconds <= 0:
        raise ValueError("--seconds must be positive")
    if args.play:
        return _play(args)
    if args.out is None:
        raise ValueError("give --out FILE.wav (or --play)")
    from xrdemo.audio.io import WavSink

    sink = WavSink(args.out, SAMPLE_RATE)
    t0 = time.perf_counter()
    try:
        stats = render(args.seconds, sink, args.reflections)
    finally:
        sink.close()
    took = time.perf_counter() - t0
    share = ", ".join(f"{s:.0%}" for s in stats["speaking_share"])
    print(f"wrote {args.out}: {args.seconds:g} s binaural, 4 voices, head turning +-60 deg "
          f"({took:.1f} s to render; speaking {share})")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "audio-demo", help="render (or play) binaural voices around the table while the head turns",
        description="Four scripted voices sit around the table; your head turns left and right, and "
                    "the voices stay where the people sit. Near the end, the person on your left "
                    "leans in and whispers. Listen on headphones.")
    p.add_argument("--out", metavar="FILE.wav", help="write a stereo 48 kHz WAV (headless)")
    p.add_argument("--seconds", type=float, default=10.0, help="length in seconds (default 10)")
    p.add_argument("--play", action="store_true", help="play live on the sound device instead")
    p.add_argument("--reflections", action="store_true", help="add the table-plane reflection of each voice")
    p.set_defaults(func=_handler)

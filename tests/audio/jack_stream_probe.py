"""An app-like process for the JACK tests (run by test_jack_stream.py in a fresh process, on a JACK
dummy server that the test started first): the real ``LiveMeetingAudio`` (audio in its own process)
plays a meeting of VOICES people, all speaking, while this process publishes a turning head at
90 Hz, a busy "render loop" thread here loads the CPU and the GIL, and a second busy process loads
the other core. Prints the stream statistics as JSON (last line).

    python tests/audio/jack_stream_probe.py [SECONDS] [--ahead N] [--render-delay-ms X]
        [--priority normal] [--no-load] [--in-process] [--until-sigint]

``--render-delay-ms`` makes every block's render that much slower (a render too slow for the
device must show underruns); ``--in-process`` plays through ``io.LiveOutput`` (a render thread in
this process: the design the audio process replaced, for comparison); ``--until-sigint`` plays
until Ctrl-C (SIGINT), then closes cleanly.
"""

import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one render-loop thread, not a BLAS pool
import multiprocessing
import signal
import sys
import threading
import time

import numpy as np

VOICES = 16


def arg(name, default, kind=float):
    return kind(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def busy_render_loop(stop: threading.Event, counter: list, busy_share: float = 1.0) -> None:
    """A 90 Hz frame loop that is busy ``busy_share`` of every frame (default: all of it, the worst
    case), then waits for the next frame as xrWaitFrame would. About half of the busy time is numpy
    work that releases the GIL part of the time (BLAS matmul, large ufuncs), half pure-Python work
    that holds it (scene updates)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((120, 120))
    big = rng.standard_normal(20_000)
    frame = 1.0 / 90.0
    next_frame = time.perf_counter()
    while not stop.is_set():
        next_frame += frame
        busy_until = next_frame - (1.0 - busy_share) * frame
        while time.perf_counter() < busy_until:
            a = np.tanh(a @ a.T * 1e-3)  # BLAS (single-threaded): releases the GIL
            np.sin(big, out=big)
            total = 0
            for i in range(1500):  # pure Python: holds the GIL until the switch interval
                total += i * i
        counter[0] += 1
        time.sleep(max(0.0, next_frame - time.perf_counter()))


def busy_process(stop, loops) -> None:
    """Another program on the machine: pure Python + numpy, flat out until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopped by the probe, not by Ctrl-C
    big = np.random.default_rng(2).standard_normal(50_000)
    while not stop.is_set():
        np.sin(big, out=big)
        total = 0
        for i in range(3000):
            total += i * i
        loops.value += 1


def seats(n):
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([1.2 * np.sin(angles), np.full(n, 1.2), 1.2 * np.cos(angles)], axis=1)


class InProcessMeeting:
    """The design the audio process replaced: ``io.LiveOutput``, a render thread in this process."""

    def __init__(self, n, ahead):
        import sounddevice as sd

        from xrdemo.audio.engine import SpatialAudioEngine
        from xrdemo.audio.handoff import PoseHandoff
        from xrdemo.audio.io import BlockRenderer, LiveOutput
        from xrdemo.audio.meeting import MeetingVoices

        jack = [i for i, api in enumerate(sd.query_hostapis()) if "JACK" in api["name"]]
        device = sd.query_hostapis(jack[0])["default_output_device"]
        self.engine = SpatialAudioEngine(48000, 256)
        self.engine.set_sources(seats(n))
        self.voices = MeetingVoices(n, 48000, 256, silent=(0,))
        self.handoff = PoseHandoff()
        self.level = np.zeros(n)
        self.device = "in-process"
        speaking = np.ones(n, bool)

        def sources(out):
            out[:], (self.level, _) = self.voices.next_block(speaking)

        self.out = LiveOutput(BlockRenderer(self.engine, self.handoff, sources), device=device, ahead=ahead)
        self.out.start()

    def publish(self, head_pos, head_rot, mouths, heads, speaking):
        self.handoff.publish(head_pos, head_rot)

    def stats(self):
        return {**self.out.stats(), "filter_updates": self.engine.filter_updates, "process": "in-process"}

    def close(self):
        self.out.stop()


def main() -> int:
    from xrdemo.loop.live_audio import LiveMeetingAudio
    from xrdemo.audio.realtime import DEFAULT_AHEAD
    from xrdemo.core.pose import quat_from_yaw_pitch_roll

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else 3.0
    ahead = arg("--ahead", DEFAULT_AHEAD, int)
    load = "--no-load" not in sys.argv
    ctx = multiprocessing.get_context("spawn")
    stop_process, process_loops = ctx.Event(), ctx.Value("q", 0, lock=False)
    other = ctx.Process(target=busy_process, args=(stop_process, process_loops), daemon=True)
    if load:
        other.start()
    lines = []
    if "--in-process" in sys.argv:
        audio = InProcessMeeting(VOICES, ahead)
    else:
        audio = LiveMeetingAudio(VOICES, 0, ahead=ahead, log=lines.append,
                                 priority=arg("--priority", "fifo", str) != "normal",
                                 render_delay_s=arg("--render-delay-ms", 0.0) / 1000.0)
    if "--until-sigint" in sys.argv:
        print("ready", flush=True)
    stop = threading.Event()
    loops = [0]
    loader = threading.Thread(target=busy_render_loop, args=(stop, loops))
    if load:
        loader.start()
    heads = seats(VOICES)
    speaking = np.ones(VOICES, bool)
    level_max = np.zeros(VOICES)
    interrupted = False
    t0 = time.monotonic()
    try:
        while "--until-sigint" in sys.argv or time.monotonic() - t0 < seconds:
            t = time.monotonic() - t0
            audio.publish(heads[0], quat_from_yaw_pitch_roll(np.sin(t)), heads, heads, speaking)
            np.maximum(level_max, audio.level, out=level_max)
            time.sleep(1 / 90)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        audio.close()
        stop.set()
        stop_process.set()
        if loader.is_alive():
            loader.join()
        if other.is_alive():
            other.join(5)
    extra = {}
    if not isinstance(audio, InProcessMeeting):
        extra = {"channel": audio.process.channel.name, "audio_pid": audio.process.process.pid,
                 "log": lines, "device": audio.process.device}
    print(json.dumps({**audio.stats(), "seconds": round(time.monotonic() - t0, 2), "load_loops": loops[0],
                      "process_loops": process_loops.value, "level_max": float(level_max[1:].min()),
                      "device": audio.device, **extra, "interrupted": interrupted}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

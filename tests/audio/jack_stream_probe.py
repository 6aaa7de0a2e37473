"""Run by test_jack_stream.py in a fresh process (PortAudio must start after jackd): play the engine
through a real sounddevice stream on the JACK server for a few seconds while a busy "render loop"
thread loads the CPU and the GIL and the main thread publishes head poses; print the stream
statistics as JSON.

    python tests/audio/jack_stream_probe.py SECONDS [--no-load] [--ahead N] [--direct]

``--direct`` renders inside the PortAudio callback (the design the ring replaced): under load it
underruns, which shows the test can fail.
"""

import json
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one render-loop thread, not a BLAS pool
import sys
import threading
import time

import numpy as np
import sounddevice as sd

from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.handoff import PoseHandoff
from xrdemo.audio.io import BlockRenderer, LiveOutput
from xrdemo.core.pose import quat_from_yaw_pitch_roll

VOICES = 16


class TimedOutput(LiveOutput):
    """LiveOutput that also records how long each callback runs once it holds the GIL."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.durations = np.zeros(4096)

    def _callback(self, outdata, frames, time_info, status):
        t0 = time.perf_counter()
        self._work(outdata, frames, time_info, status)
        if self.callbacks <= self.durations.size:
            self.durations[self.callbacks - 1] = time.perf_counter() - t0

    def _work(self, outdata, frames, time_info, status):
        super()._callback(outdata, frames, time_info, status)

    def callback_us(self):
        d = self.durations[:min(self.callbacks, self.durations.size)] * 1e6
        return {"callback_median_us": round(float(np.median(d)), 1), "callback_max_us": round(float(d.max()), 1)}


class DirectOutput(TimedOutput):
    """Heavy work in the callback: the engine renders there (the design the ring replaced)."""

    def _work(self, outdata, frames, time_info, status):
        self.callbacks += 1
        if status.output_underflow:
            self.device_underruns += 1
            self._note_underrun()
        self.renderer.render(outdata)


def busy_render_loop(stop: threading.Event, counter: list, busy_share: float = 1.0) -> None:
    """A 90 Hz frame loop that is busy ``busy_share`` of every frame (default: all of it, the worst
    case), then waits for the next frame as xrWaitFrame would. About half of the busy time is numpy work that releases the GIL part of the
    time (BLAS matmul, large ufuncs), half pure-Python work that holds it (scene updates)."""
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


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else 3.0
    ahead = int(sys.argv[sys.argv.index("--ahead") + 1]) if "--ahead" in sys.argv else 2
    jack = [i for i, api in enumerate(sd.query_hostapis()) if "JACK" in api["name"]]
    if not jack:
        print(json.dumps({"error": "PortAudio has no JACK host API"}))
        return 1
    device = sd.query_hostapis(jack[0])["default_output_device"]
    engine = SpatialAudioEngine(48000, 256)
    angles = np.linspace(0, 2 * np.pi, VOICES, endpoint=False)
    engine.set_sources(np.stack([1.5 * np.sin(angles), np.zeros(VOICES), 1.5 * np.cos(angles)], axis=1))
    noise = (np.random.default_rng(0).standard_normal((VOICES, 256)) * 0.05).astype(np.float32)
    handoff = PoseHandoff()

    def sources(out):
        out[:] = noise

    kind = DirectOutput if "--direct" in sys.argv else TimedOutput
    output = kind(BlockRenderer(engine, handoff, sources), device=device, ahead=ahead)
    stop = threading.Event()
    loops = [0]
    loader = threading.Thread(target=busy_render_loop, args=(stop, loops))
    if "--no-load" not in sys.argv:
        loader.start()
    output.start()
    t0 = time.monotonic()
    while (t := time.monotonic() - t0) < seconds:
        handoff.publish([0.0, 0.0, 0.0], quat_from_yaw_pitch_roll(np.sin(t)))
        time.sleep(1 / 90)
    output.stop()
    stop.set()
    if loader.is_alive():
        loader.join()
    print(json.dumps({**output.stats(), **output.callback_us(), "filter_updates": engine.filter_updates, "seconds": seconds,
                      "load_loops": loops[0], "direct": kind is DirectOutput}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

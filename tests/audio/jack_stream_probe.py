"""Run by test_jack_stream.py in a fresh process (PortAudio must start after jackd): play the engine
through a real sounddevice stream on the JACK server for a few seconds while a busy "render loop"
thread loads the CPU and the GIL and the main thread publishes head poses; print the stream
statistics as JSON.

    python tests/audio/jack_stream_probe.py SECONDS [--no-load] [--ahead N] [--direct]

``--direct`` renders inside a Python PortAudio callback (the design LiveOutput replaced): under
this load it underruns in some runs (GIL priority inversion on the device thread).
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
from xrdemo.audio.realtime import DEFAULT_AHEAD
from xrdemo.core.pose import quat_from_yaw_pitch_roll

VOICES = 16


class DirectOutput:
    """The design LiveOutput replaced: a Python PortAudio callback that renders the block itself
    (needs the GIL and hundreds of µs on the device thread). For the negative check only."""

    def __init__(self, renderer, device=None, ahead=None):
        self.renderer = renderer
        self.callbacks = self.device_underruns = 0
        self._stream = sd.OutputStream(samplerate=48000, blocksize=256, channels=2, dtype="float32",
                                       device=device, latency="low", callback=self._callback)

    def _callback(self, outdata, frames, time_info, status):
        self.callbacks += 1
        self.device_underruns += bool(status.output_underflow)
        self.renderer.render(outdata)

    def start(self):
        self._stream.start()

    def stop(self):
        self._stream.stop()
        self._stream.close()

    def stats(self):
        return {"callbacks": self.callbacks, "device_underruns": self.device_underruns, "ring_underruns": 0,
                "rendered": self.callbacks}


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
    ahead = int(sys.argv[sys.argv.index("--ahead") + 1]) if "--ahead" in sys.argv else DEFAULT_AHEAD
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

    kind = DirectOutput if "--direct" in sys.argv else LiveOutput
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
    print(json.dumps({**output.stats(), "filter_updates": engine.filter_updates, "seconds": seconds,
                      "load_loops": loops[0], "direct": kind is DirectOutput}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

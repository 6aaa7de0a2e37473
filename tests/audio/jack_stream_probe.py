"""Run by test_jack_stream.py in a fresh process (PortAudio must start after jackd): play the engine
through a real sounddevice stream on the JACK server for a few seconds while another thread loads
the CPU and the "render loop" publishes head poses; print the stream statistics as JSON."""

import json
import sys
import threading
import time

import numpy as np
import sounddevice as sd

from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.handoff import PoseHandoff
from xrdemo.audio.io import BlockRenderer, LiveOutput
from xrdemo.core.pose import quat_from_yaw_pitch_roll


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    jack = [i for i, api in enumerate(sd.query_hostapis()) if "JACK" in api["name"]]
    if not jack:
        print(json.dumps({"error": "PortAudio has no JACK host API"}))
        return 1
    device = sd.query_hostapis(jack[0])["default_output_device"]
    engine = SpatialAudioEngine(48000, 256)
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    engine.set_sources(np.stack([1.5 * np.sin(angles), np.zeros(8), 1.5 * np.cos(angles)], axis=1))
    noise = (np.random.default_rng(0).standard_normal((8, 256)) * 0.05).astype(np.float32)
    handoff = PoseHandoff()

    def sources(out):
        out[:] = noise

    output = LiveOutput(BlockRenderer(engine, handoff, sources), device=device)
    stop = threading.Event()

    def load():  # a busy "render loop" competing for the CPU and the GIL
        a = np.random.default_rng(1).standard_normal((200, 200))
        while not stop.is_set():
            a = np.tanh(a @ a.T * 1e-3)
            sum(i * i for i in range(2000))

    loader = threading.Thread(target=load)
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
    print(json.dumps({**output.stats(), "filter_updates": engine.filter_updates, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

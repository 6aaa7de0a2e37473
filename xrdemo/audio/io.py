"""Audio at the edge: live output (sounddevice), WAV and null sinks with fallback, microphone input.

The real-time callback only copies into preallocated buffers and calls the engine: it reads the
newest head pose through ``PoseHandoff`` (never the render loop's lock), asks a source provider to
fill the (N, block) voice buffer, and lets the engine write straight into the device buffer.
Underruns reported by PortAudio are counted.
"""

from __future__ import annotations

import sys
import wave
from typing import Callable

import numpy as np

from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.handoff import PoseHandoff

SWITCH_INTERVAL_S = 0.0005  # GIL hand-over interval while live audio runs
SourceProvider = Callable[[np.ndarray], None]  # fills (N, block) float32 in place


class BlockRenderer:
    """One block of the live chain: newest pose -> engine listener, sources -> stereo (block, 2)."""

    def __init__(self, engine: SpatialAudioEngine, handoff: PoseHandoff, sources: SourceProvider):
        self.engine = engine
        self.handoff = handoff
        self.sources = sources
        self._pose = np.zeros(7)
        self._voices = np.zeros((engine.source_count, engine.block), dtype=np.float32)

    def render(self, out: np.ndarray) -> np.ndarray:
        self.handoff.read(self._pose)
        self.engine.set_listener(self._pose[:3], self._pose[3:])
        self.sources(self._voices)
        return self.engine.process(self._voices, out=out)


class WavSink:
    """Writes stereo float blocks (B, 2) to a 16-bit PCM WAV file."""

    kind = "wav"

    def __init__(self, path, sample_rate: int):
        self.path = str(path)
        self._file = wave.open(self.path, "wb")
        self._file.setnchannels(2)
        self._file.setsampwidth(2)
        self._file.setframerate(int(sample_rate))
        self.frames = 0

    def write(self, block: np.ndarray) -> None:
        pcm = np.clip(np.round(block * 32767.0), -32768, 32767).astype("<i2")
        self._file.writeframes(pcm.tobytes())
        self.frames += block.shape[0]

    def close(self) -> None:
        self._file.close()


class NullSink:
    """Discards audio (counts frames): the last fallback."""

    kind = "null"

    def __init__(self):
        self.frames = 0

    def write(self, block: np.ndarray) -> None:
        self.frames += block.shape[0]

    def close(self) -> None:
        pass


class LiveOutput:
    """A sounddevice output stream driving a ``BlockRenderer``; counts underruns and callback errors."""

    kind = "sounddevice"

    def __init__(self, renderer: BlockRenderer, device=None, latency="low"):
        import sounddevice as sd

        self.renderer = renderer
        self.underruns = 0
        self.callbacks = 0
        self.wrong_sizes = 0
        self.last_underrun_callback = -1
        self.underrun_at = np.full(64, -1)  # callback numbers of the first 64 underruns
        engine = renderer.engine
        self._block = engine.block
        self._stream = sd.OutputStream(samplerate=engine.sample_rate, blocksize=engine.block, channels=2,
                                       dtype="float32", device=device, latency=latency,
                                       callback=self._callback)

    def _callback(self, outdata, frames, time_info, status):  # PortAudio thread: no allocation, no I/O
        self.callbacks += 1
        if status.output_underflow:
            self.underruns += 1
            self.last_underrun_callback = self.callbacks
            if self.underruns <= self.underrun_at.size:
                self.underrun_at[self.underruns - 1] = self.callbacks
        if frames != self._block:
            self.wrong_sizes += 1
            outdata.fill(0.0)
            return
        self.renderer.render(outdata)

    def start(self):
        # Python threads hand over the GIL every 5 ms by default, a whole block: a busy render thread
        # could then starve the callback. 0.5 ms keeps the audio thread's wait well inside a block.
        self._previous_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._previous_switch, SWITCH_INTERVAL_S))
        self._stream.start()

    def stop(self):
        self._stream.stop()
        self._stream.close()
        sys.setswitchinterval(self._previous_switch)

    def stats(self) -> dict:
        return {"callbacks": self.callbacks, "underruns": self.underruns, "wrong_sizes": self.wrong_sizes,
                "underrun_at": [int(i) for i in self.underrun_at if i >= 0]}


def open_live_output(renderer: BlockRenderer, fallback_wav=None, device=None):
    """sounddevice if a device can be opened, else a WAV sink (if a path is given), else null.

    Returns (sink, message); the message says which output was picked and why.
    """
    try:
        out = LiveOutput(renderer, device=device)
        return out, "audio: playing on the default sound device"
    except Exception as exc:  # PortAudio missing, no device, device busy ...
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
    sample_rate = renderer.engine.sample_rate
    if fallback_wav is not None:
        return WavSink(fallback_wav, sample_rate), f"audio: no sound device ({reason}); writing {fallback_wav}"
    return NullSink(), f"audio: no sound device ({reason}); audio is discarded"


class MicInput:
    """Microphone capture for the local voice, with a level meter (``level_db``, ``peak_db``).

    The callback keeps the newest ``seconds`` of audio in a preallocated ring buffer.
    """

    def __init__(self, sample_rate=48000, block=256, seconds=2.0, device=None):
        import sounddevice as sd

        self.ring = np.zeros(int(seconds * sample_rate), dtype=np.float32)
        self.write_index = 0
        self.level_db = -120.0
        self.peak_db = -120.0
        self.overflows = 0
        self._stream = sd.InputStream(samplerate=sample_rate, blocksize=block, channels=1, dtype="float32",
                                      device=device, callback=self._callback)

    def _callback(self, indata, frames, time_info, status):
        if status.input_overflow:
            self.overflows += 1
        x = indata[:, 0]
        n = self.ring.size
        i = self.write_index % n
        first = min(frames, n - i)
        self.ring[i:i + first] = x[:first]
        self.ring[:frames - first] = x[first:]
        self.write_index += frames
        rms = float(np.sqrt(np.mean(x * x))) if frames else 0.0
        self.level_db = 20.0 * np.log10(max(rms, 1e-6))
        self.peak_db = max(self.level_db, self.peak_db - 0.5)

    def start(self):
        self._stream.start()

    def stop(self):
        self._stream.stop()
        self._stream.close()


def level_meter(level_db: float, width=30, floor_db=-60.0) -> str:
    """Text meter for a level in dBFS, e.g. '[#########.........] -32 dB'."""
    filled = int(round(width * min(1.0, max(0.0, (level_db - floor_db) / -floor_db))))
    return f"[{'#' * filled}{'.' * (width - filled)}] {level_db:5.0f} dB"


def warn(message: str) -> None:
    print(message, file=sys.stderr)

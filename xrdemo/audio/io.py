"""Audio at the edge: live output (sounddevice), WAV and null sinks with fallback, microphone input.

The real-time path only copies from preallocated buffers: a render-ahead thread reads the newest
head pose through ``PoseHandoff`` (never the render loop's lock), asks a source provider to fill
the (N, block) voice buffer and renders into PortAudio's lock-free FIFO (blocking-API stream),
whose C callback copies one block out; no Python runs on the device thread. Underruns are counted.
"""

from __future__ import annotations

import sys
import threading
import time
import wave
from typing import Callable

import numpy as np

from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.handoff import PoseHandoff
from xrdemo.audio.realtime import DEFAULT_AHEAD, raise_thread_priority

SWITCH_INTERVAL_S = 0.0001  # GIL hand-over interval while live audio runs
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
    """Live output with no Python on the real-time path: a render-ahead thread feeds PortAudio's
    own lock-free FIFO through a blocking-API stream; PortAudio's C callback only copies from it.

    The render thread (``RenderAheadThread``, real-time priority when the OS allows) keeps ``ahead``
    blocks queued: before each block it reads the newest head pose, so the added head-tracking
    latency is at most ``ahead`` x block duration. A Python callback would need the GIL on the
    device thread, and a busy render loop holding the GIL while the OS preempts it makes the device
    wait (measured on the JACK dummy server: 1-3 xruns per 3 s); this design never takes the GIL there.

    Underruns: ``ring_underruns`` counts blocks where the FIFO had run dry before the next block was
    written (the device played silence), ``device_underruns`` those PortAudio reports on write.
    """

    kind = "sounddevice"

    def __init__(self, renderer: BlockRenderer, device=None, latency="low", ahead: int = DEFAULT_AHEAD):
        import sounddevice as sd

        self.renderer = renderer
        engine = renderer.engine
        self._block = engine.block
        self.ahead = int(ahead)
        self._buffer = np.zeros((engine.block, 2), dtype=np.float32)
        self.device_underruns = 0
        self.ring_underruns = 0
        self.blocks_written = 0
        self.wrong_sizes = 0  # kept for the stats format: a blocking stream always gets whole blocks
        self.capacity_frames = 0
        self.underrun_at = np.full(64, -1)  # block numbers of the first 64 underruns (either kind)
        self._underrun_count = 0
        self._period = engine.block / engine.sample_rate
        self._stop_flag = False
        self.priority = "not started"
        self.error: BaseException | None = None
        self._stream = sd.OutputStream(samplerate=engine.sample_rate, blocksize=engine.block, channels=2,
                                       dtype="float32", device=device, latency=latency)
        self._thread = threading.Thread(target=self._run, name="audio-render", daemon=True)

    @property
    def underruns(self) -> int:
        return self.device_underruns + self.ring_underruns

    @property
    def callbacks(self) -> int:
        """Blocks handed to the device (one device period each)."""
        return self.blocks_written

    @property
    def added_latency_ms(self) -> float:
        """Worst-case head-pose-to-device delay added by rendering ahead, in milliseconds."""
        return 1000.0 * self.ahead * self._period

    def _note_underrun(self) -> None:
        if self._underrun_count < self.underrun_at.size:
            self.underrun_at[self._underrun_count] = self.blocks_written
        self._underrun_count += 1

    def _measure_capacity(self) -> int:
        """PortAudio's FIFO starts full of silence; let it drain and read how many frames it holds."""
        last, steady = -1, 0
        deadline = time.monotonic() + 1.0
        while steady < 3 and time.monotonic() < deadline:
            time.sleep(self._period)
            now = self._stream.write_available
            steady = steady + 1 if now == last else 0
            last = now
        return max(last, self.ahead * self._block)

    def _run(self) -> None:
        self.priority = raise_thread_priority()
        try:
            want = self.ahead * self._block
            stream, buffer, render = self._stream, self._buffer, self.renderer.render
            while not self._stop_flag:
                queued = self.capacity_frames - stream.write_available
                if queued >= want:
                    time.sleep(self._period / 4.0)
                    continue
                if queued <= 0 and self.blocks_written >= self.ahead:
                    self.ring_underruns += 1
                    self._note_underrun()
                render(buffer)
                if stream.write(buffer):
                    self.device_underruns += 1
                    self._note_underrun()
                self.blocks_written += 1
        except BaseException as exc:  # reported by stop(); the device then plays silence
            self.error = exc

    def start(self):
        # The render thread must not wait long for the GIL behind a busy render loop.
        self._previous_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._previous_switch, SWITCH_INTERVAL_S))
        self._stream.start()
        self.capacity_frames = self._measure_capacity()
        self._thread.start()

    def stop(self):
        self._stop_flag = True
        if self._thread.is_alive():
            self._thread.join()
        self._stream.stop()
        self._stream.close()
        sys.setswitchinterval(self._previous_switch)
        if self.error is not None:
            raise RuntimeError(f"audio render thread failed: {self.error!r}") from self.error

    def stats(self) -> dict:
        return {"callbacks": self.callbacks, "underruns": self.underruns,
                "device_underruns": self.device_underruns, "ring_underruns": self.ring_underruns,
                "wrong_sizes": self.wrong_sizes, "rendered": self.blocks_written, "ahead": self.ahead,
                "render_priority": self.priority, "fifo_frames": self.capacity_frames,
                "added_latency_ms": round(self.added_latency_ms, 2),
                "underrun_at": [int(i) for i in self.underrun_at if i >= 0]}


def open_live_output(renderer: BlockRenderer, fallback_wav=None, device=None, ahead: int = DEFAULT_AHEAD):
    """sounddevice if a device can be opened, else a WAV sink (if a path is given), else null.

    Returns (sink, message); the message says which output was picked and why.
    """
    try:
        out = LiveOutput(renderer, device=device, ahead=ahead)
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

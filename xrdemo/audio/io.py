"""Audio at the edge: live output (sounddevice), WAV and null sinks with fallback, microphone input.

No Python runs on the device thread: ``RenderAheadFeeder`` renders blocks a little ahead into
PortAudio's own lock-free FIFO (a blocking-API stream), whose C callback copies one block out per
device period. The feeder reads the newest head pose through a lock-free handoff before each block
(never the render loop's lock). Underruns are counted. The app runs the feeder in its own process
(``realtime.AudioProcess``); ``LiveOutput`` runs it in a thread, for tools with no busy render loop.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import wave
from typing import Callable

import numpy as np

from xrdemo.audio.engine import SpatialAudioEngine
from xrdemo.audio.handoff import PoseHandoff

SWITCH_INTERVAL_S = 0.0001  # GIL hand-over interval while live audio runs
SourceProvider = Callable[[np.ndarray], None]  # fills (N, block) float32 in place


# 3 blocks (16 ms) + 1 device period + 1 crossfade block = 26.7 ms < the 30 ms budget (DESIGN.md).
# 2 blocks leave the feeder only ~3 ms of slack (one period minus a 1-2.5 ms render): on the
# loaded 2-core dev machine that ran dry in about 1 of 4 three-second runs, even at SCHED_FIFO.
DEFAULT_AHEAD = 3


def raise_thread_priority(fifo_priority: int = 5, nice: int = -10) -> str:
    """Ask the OS to favour the calling thread (audio must not wait behind busy threads).

    Tries SCHED_FIFO at a low real-time priority (below JACK's own threads), then a negative nice
    value; both need privileges (CAP_SYS_NICE or an rtprio/nice limit, as audio users usually
    have), so failing is fine. Returns what was granted: "fifo", "nice" or "normal". Linux applies
    both per thread.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(fifo_priority))
        return "fifo"
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return "nice"
    except (AttributeError, OSError):
        return "normal"


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


class RenderAheadFeeder:
    """Keeps ``ahead`` rendered blocks queued in a blocking-API PortAudio stream's own FIFO.

    PortAudio's C callback (or JACK process callback) copies one block out of that FIFO per device
    period; no Python runs on the device thread. This loop, in the thread that calls ``run``,
    polls the FIFO every quarter period and tops it up: before each block it calls ``render(out)``
    (which reads the newest head pose), so the added head-tracking latency is at most ``ahead``
    blocks. Used by the audio process (``realtime.run_audio_process``) and by ``LiveOutput``.

    Counters live in ``counters`` (int64 array, indices below; shared memory in the audio process):
    RING_UNDERRUNS counts writes that found the FIFO already empty after start-up: an underflow
    leaves it empty until the next write, so every underrun episode is counted (conservatively: a
    write that beat the next device period by a hair counts too; with ``ahead=1`` every block is
    such a near miss, so 2 is the least useful value). DEVICE_UNDERRUNS counts those PortAudio
    reports on write (host APIs that report them; JACK's blocking mode does not).
    GAP_US_MAX: the longest time between two turns of the loop (how late the feeder ever got);
    SLOW_RENDERS: blocks whose render took more than half a period.
    ``underrun_at`` logs the block numbers of the first underruns.
    """

    (BLOCKS, RING_UNDERRUNS, DEVICE_UNDERRUNS, FIFO_FRAMES, RENDER_US_MAX, RENDER_US_TOTAL, GAP_US_MAX,
     SLOW_RENDERS) = range(1, 9)
    SLOTS = 16  # counters[0] is left to the owner (the audio process keeps its stop flag there)

    def __init__(self, stream, block: int, sample_rate: int, render: Callable[[np.ndarray], object],
                 ahead: int = DEFAULT_AHEAD, counters: np.ndarray | None = None,
                 underrun_at: np.ndarray | None = None):
        if ahead < 1:
            raise ValueError(f"ahead must be at least 1 block, not {ahead}")
        self.stream = stream
        self.block = int(block)
        self.period = self.block / float(sample_rate)
        self.render = render
        self.ahead = int(ahead)
        self.counters = np.zeros(self.SLOTS, np.int64) if counters is None else counters
        self.underrun_at = np.full(64, -1, np.int64) if underrun_at is None else underrun_at
        self._underrun_count = 0
        self._buffer = np.zeros((self.block, 2), dtype=np.float32)

    def measure_capacity(self) -> int:
        """Call after ``stream.start()``: PortAudio's FIFO starts full of silence; let it drain and
        read how many frames it holds."""
        last, steady = -1, 0
        deadline = time.monotonic() + 1.0
        while steady < 3 and time.monotonic() < deadline:
            time.sleep(self.period)
            now = self.stream.write_available
            steady = steady + 1 if now == last else 0
            last = now
        capacity = max(last, self.ahead * self.block)
        self.counters[self.FIFO_FRAMES] = capacity
        return capacity

    def _note_underrun(self, kind: int) -> None:
        c = self.counters
        c[kind] += 1
        if self._underrun_count < self.underrun_at.size:
            self.underrun_at[self._underrun_count] = c[self.BLOCKS]
        self._underrun_count += 1

    def run(self, should_stop: Callable[[], bool]) -> None:
        """Feed the stream until ``should_stop()`` (checked every poll, ~1.3 ms) returns true."""
        c, stream, buffer, render = self.counters, self.stream, self._buffer, self.render
        capacity = int(c[self.FIFO_FRAMES]) or self.measure_capacity()
        want = self.ahead * self.block
        nap = self.period / 4.0
        slow_us = 500_000 * self.period  # half a period
        clock = time.perf_counter
        last = clock()
        while not should_stop():
            now = clock()
            gap = int(1e6 * (now - last))
            last = now
            if gap > c[self.GAP_US_MAX] and c[self.BLOCKS] >= self.ahead:
                c[self.GAP_US_MAX] = gap
            if capacity - stream.write_available >= want:
                time.sleep(nap)
                continue
            render(buffer)
            took = int(1e6 * (clock() - now))
            c[self.RENDER_US_TOTAL] += took
            if took > c[self.RENDER_US_MAX]:
                c[self.RENDER_US_MAX] = took
            if took > slow_us:
                c[self.SLOW_RENDERS] += 1
            # An underflow leaves the FIFO empty until the next write, so checking right before
            # each write sees every one (and near misses: dry but the device not yet due).
            if capacity - stream.write_available <= 0 and c[self.BLOCKS] >= self.ahead:
                self._note_underrun(self.RING_UNDERRUNS)
            if stream.write(buffer):
                self._note_underrun(self.DEVICE_UNDERRUNS)
            c[self.BLOCKS] += 1

    def stats(self) -> dict:
        return feeder_stats(self.counters, self.underrun_at, self.ahead, self.period)


def feeder_stats(counters: np.ndarray, underrun_at: np.ndarray, ahead: int, period: float) -> dict:
    """A ``RenderAheadFeeder``'s counters as a dict (the shape of ``stats()`` in the live path);
    also read by the app from the audio process's shared memory."""
    F = RenderAheadFeeder
    c = counters
    blocks = int(c[F.BLOCKS])
    return {"callbacks": blocks, "rendered": blocks,
            "underruns": int(c[F.RING_UNDERRUNS] + c[F.DEVICE_UNDERRUNS]),
            "ring_underruns": int(c[F.RING_UNDERRUNS]), "device_underruns": int(c[F.DEVICE_UNDERRUNS]),
            "wrong_sizes": 0, "ahead": int(ahead), "fifo_frames": int(c[F.FIFO_FRAMES]),
            "added_latency_ms": round(1000.0 * ahead * period, 2),
            "render_us_max": int(c[F.RENDER_US_MAX]),
            "render_us_mean": round(int(c[F.RENDER_US_TOTAL]) / max(blocks, 1), 1),
            "loop_gap_us_max": int(c[F.GAP_US_MAX]), "slow_renders": int(c[F.SLOW_RENDERS]),
            "underrun_at": [int(i) for i in underrun_at if i >= 0]}


class LiveOutput:
    """In-process live output (for tools with no busy render loop, e.g. ``audio-demo --play``):
    a ``RenderAheadFeeder`` in a thread of this process (real-time priority when the OS allows).

    The app uses ``realtime.AudioProcess`` instead: a thread here needs this process's GIL, and a
    busy render loop that holds it while the OS preempts it makes the feeder late (measured on the
    JACK dummy server with a busy render-loop thread: ring underruns in some 3 s runs).
    """

    kind = "sounddevice"

    def __init__(self, renderer: BlockRenderer, device=None, latency="low", ahead: int = DEFAULT_AHEAD):
        import sounddevice as sd

        self.renderer = renderer
        engine = renderer.engine
        self.ahead = int(ahead)
        self.priority = "not started"
        self.error: BaseException | None = None
        self._stop_flag = False
        self._stream = sd.OutputStream(samplerate=engine.sample_rate, blocksize=engine.block, channels=2,
                                       dtype="float32", device=device, latency=latency)
        self.feeder = RenderAheadFeeder(self._stream, engine.block, engine.sample_rate, renderer.render,
                                        ahead=ahead)
        self._thread = threading.Thread(target=self._run, name="audio-render", daemon=True)

    @property
    def underruns(self) -> int:
        return self.stats()["underruns"]

    @property
    def callbacks(self) -> int:
        """Blocks handed to the device (one device period each)."""
        return self.stats()["callbacks"]

    def _run(self) -> None:
        self.priority = raise_thread_priority()
        try:
            self.feeder.run(lambda: self._stop_flag)
        except BaseException as exc:  # reported by stop(); the device then plays silence
            self.error = exc

    def start(self):
        # The render thread must not wait long for the GIL behind a busy render loop.
        self._previous_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._previous_switch, SWITCH_INTERVAL_S))
        self._stream.start()
        self.feeder.measure_capacity()
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

    def close(self):
        pass

    def stats(self) -> dict:
        return {**self.feeder.stats(), "render_priority": self.priority}


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
    """Microphone capture into a preallocated ring buffer (the newest ``seconds`` of audio).

    Real-time rule (the same as the output side): the PortAudio callback only copies the block into
    the ring and advances ``write_index`` (samples captured so far); it calls nothing else. Readers
    on other threads take what is new with ``read_since(index)`` (the network sender encodes and
    sends from there, see ``xrdemo.loop.live_audio.MicSender``); ``level_db`` is measured on
    demand from the newest block.
    """

    def __init__(self, sample_rate=48000, block=256, seconds=2.0, device=None, stream=True):
        self.sample_rate, self.block = int(sample_rate), int(block)
        self.ring = np.zeros(int(seconds * sample_rate), dtype=np.float32)
        self.write_index = 0
        self.overflows = 0
        self._peak_db = -120.0
        self._stream = None
        if stream:
            import sounddevice as sd

            self._stream = sd.InputStream(samplerate=sample_rate, blocksize=block, channels=1,
                                          dtype="float32", device=device, callback=self._callback)

    def _callback(self, indata, frames, time_info, status):
        if status.input_overflow:
            self.overflows += 1
        self.capture(indata[:, 0])

    def capture(self, x: np.ndarray) -> None:
        """Copy captured samples (frames,) float32 into the ring (the callback's whole job)."""
        frames = len(x)
        n = self.ring.size
        i = self.write_index % n
        first = min(frames, n - i)
        self.ring[i:i + first] = x[:first]
        self.ring[:frames - first] = x[first:]
        self.write_index += frames

    def read_since(self, index: int) -> tuple[np.ndarray, int, int]:
        """(samples captured since ``index``, the new index, samples lost because the reader
        fell more than the ring behind)."""
        end = self.write_index
        lost = max(0, end - index - self.ring.size)
        start = index + lost
        count = end - start
        if count <= 0:
            return np.zeros(0, np.float32), end, lost
        i = start % self.ring.size
        first = min(count, self.ring.size - i)
        out = np.empty(count, np.float32)
        out[:first] = self.ring[i:i + first]
        out[first:] = self.ring[:count - first]
        return out, end, lost

    @property
    def level_db(self) -> float:
        """RMS level of the newest block, dBFS (-120 when nothing was captured)."""
        if self.write_index == 0:
            return -120.0
        x, _, _ = self.read_since(self.write_index - min(self.block, self.write_index))
        rms = float(np.sqrt(np.mean(x * x))) if len(x) else 0.0
        return 20.0 * float(np.log10(max(rms, 1e-6)))

    @property
    def peak_db(self) -> float:
        """A slowly falling peak of level_db (for meters)."""
        self._peak_db = max(self.level_db, self._peak_db - 0.5)
        return self._peak_db

    def start(self):
        if self._stream is not None:
            self._stream.start()

    def stop(self):
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()


def level_meter(level_db: float, width=30, floor_db=-60.0) -> str:
    """Text meter for a level in dBFS, e.g. '[#########.........] -32 dB'."""
    filled = int(round(width * min(1.0, max(0.0, (level_db - floor_db) / -floor_db))))
    return f"[{'#' * filled}{'.' * (width - filled)}] {level_db:5.0f} dB"


def warn(message: str) -> None:
    print(message, file=sys.stderr)

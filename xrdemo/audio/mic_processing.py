"""The microphone processing chain: echo cancellation, noise suppression, gain control, voice activity.

``MicProcessor`` wraps WebRTC's audio processing (the ``AudioProcessingModule`` of the ``livekit``
package: AEC3 echo canceller, noise suppressor, high-pass filter, gain controller) and WebRTC's
voice activity detector (``webrtcvad-wheels``). It works on 10 ms frames at 48 kHz:

- the output side hands it exactly what this machine plays, as it is handed to the sound device,
  with ``far_end(block)`` ((n, channels) float32, any n) — one small lock-free ring
  (``FarEndRing``), so the caller never waits and may live in another thread or, over shared
  memory, another process;
- the sender side calls ``process(near)`` with each 10 ms microphone frame ((480,) float32) and
  gets the cleaned frame and a voice-activity boolean back. Every far-end frame written so far is
  given to the canceller first, so the reference always leads the echo it explains.

Why livekit's module (compared in docs/voice.md): it is WebRTC's current AEC3 + NS + AGC in one,
Apache-2.0, with binary wheels for Linux (x86-64, aarch64), Windows and macOS, released in 2026.
Not for the PortAudio callback: ``process`` calls into a native library (~0.1-0.2 ms per frame).
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 48000
FRAME = SAMPLE_RATE // 100
"""Samples per 10 ms frame: what the WebRTC audio processing and its VAD take."""

VAD_MODE = 3
"""webrtcvad aggressiveness 0..3 (3: fewest false "speech" calls on noise; it runs on the cleaned,
noise-suppressed signal, so quiet speech is still found)."""


class FarEndRing:
    """The played mix, from one writer (the output path) to one reader (the microphone processor).

    Samples (capacity, channels) float32 in any writable buffer (a numpy array inside one process,
    ``multiprocessing.shared_memory`` between processes) after an int64 header [samples written].
    The writer copies, then advances the counter (plain aligned stores, visible in program order on
    x86-64, as in ``handoff.SeqlockSlots``); it never waits and never looks at the reader. A reader
    that falls more than ``capacity`` behind skips ahead to the newest audio (``overruns`` counts
    the samples lost).
    """

    HEADER = 1

    @staticmethod
    def nbytes(capacity: int, channels: int) -> int:
        return 8 * FarEndRing.HEADER + 4 * int(capacity) * int(channels)

    def __init__(self, capacity: int = SAMPLE_RATE // 2, channels: int = 2, buffer=None, offset: int = 0):
        self.capacity, self.channels = int(capacity), int(channels)
        if buffer is None:
            buffer = bytearray(self.nbytes(capacity, channels))
        self._written = np.ndarray(self.HEADER, np.int64, buffer, offset)
        self._data = np.ndarray((self.capacity, self.channels), np.float32, buffer, offset + 8 * self.HEADER)
        self.read_index = int(self._written[0])
        self.overruns = 0

    def initialise(self) -> None:
        """Creator only, before either side runs: nothing written yet."""
        self._written[0] = 0
        self.read_index = 0

    def release(self) -> None:
        """Drop the views of the buffer (so a shared-memory segment can be closed)."""
        self._written = self._data = None

    # --- writer (the output path) ----------------------------------------------------------------
    def write(self, block: np.ndarray) -> None:
        """Append (n, channels) float32 samples (n <= capacity); mono (n,) is copied to every channel."""
        block = np.asarray(block, np.float32)
        if block.ndim == 1:
            block = block[:, None]
        n = block.shape[0]
        w = int(self._written[0])
        i = w % self.capacity
        first = min(n, self.capacity - i)
        self._data[i:i + first] = block[:first]
        self._data[:n - first] = block[first:]
        self._written[0] = w + n

    # --- reader (the microphone processor) -------------------------------------------------------
    def available(self) -> int:
        """Samples written and not yet read (after skipping anything already overwritten)."""
        w = int(self._written[0])
        if w - self.read_index > self.capacity - FRAME:
            skip = w - (self.capacity - FRAME) - self.read_index
            self.overruns += skip
            self.read_index += skip
        return w - self.read_index

    def read(self, out: np.ndarray) -> None:
        """Copy the next out.shape[0] samples (which must be ``available``) into out (n, channels)."""
        n = out.shape[0]
        i = self.read_index % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._data[i:i + first]
        out[first:] = self._data[:n - first]
        self.read_index += n


def _to_int16(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    np.multiply(x, 32767.0, out=x)
    np.clip(x, -32768.0, 32767.0, out=x)
    out[...] = x       # float -> int16, truncation toward zero (< 1 LSB)
    return out


class MicProcessor:
    """Echo cancellation + noise suppression + gain control + voice activity on 10 ms frames.

    ``far_end(block)``: what this machine plays, (n, far_channels) float32 at 48 kHz, in play order
    (the output path calls it with each block it hands to the sound device).
    ``process(near (480,) float32) -> (cleaned (480,) float32, vad bool)``: one microphone frame.
    ``delay_ms``: known part of the echo path's delay (the output's render-ahead and device latency
    plus the input's latency), passed to the canceller as a hint; AEC3 finds the rest itself.
    Options switch each stage (all on by default); ``vad_mode`` 0..3.
    """

    def __init__(self, far_channels: int = 2, delay_ms: int = 0, echo_cancellation: bool = True,
                 noise_suppression: bool = True, gain_control: bool = True, high_pass: bool = True,
                 vad_mode: int = VAD_MODE, far_ring: FarEndRing | None = None):
        try:
            from livekit import rtc
        except ImportError as exc:
            raise ImportError("microphone processing needs the 'livekit' package "
                              "(pip install livekit): " + str(exc)) from exc
        try:
            import webrtcvad
        except ImportError as exc:
            raise ImportError("voice activity detection needs the 'webrtcvad-wheels' package "
                              "(pip install webrtcvad-wheels): " + str(exc)) from exc
        self._rtc = rtc
        self.echo_cancellation = echo_cancellation
        self._apm = rtc.AudioProcessingModule(echo_cancellation=echo_cancellation,
                                              noise_suppression=noise_suppression,
                                              high_pass_filter=high_pass,
                                              auto_gain_control=gain_control)
        self._vad = webrtcvad.Vad(int(vad_mode))
        self.far_channels = int(far_channels)
        self.ring = far_ring if far_ring is not None else FarEndRing(SAMPLE_RATE // 2, self.far_channels)
        if self.ring.channels != self.far_channels:
            raise ValueError(f"far-end ring has {self.ring.channels} channels, expected {self.far_channels}")
        self.delay_ms = int(delay_ms)
        # Work buffers, made once: float scratch and the int16 frames handed to the native code.
        self._far_f = np.zeros((FRAME, self.far_channels), np.float32)
        self._far_i = bytearray(FRAME * self.far_channels * 2)
        self._far_frame = rtc.AudioFrame(self._far_i, SAMPLE_RATE, self.far_channels, FRAME)
        self._near_f = np.zeros(FRAME, np.float32)
        self._near_i = bytearray(FRAME * 2)
        self._near_frame = rtc.AudioFrame(self._near_i, SAMPLE_RATE, 1, FRAME)
        self._far_view = np.frombuffer(self._far_i, np.int16).reshape(FRAME, self.far_channels)
        self._near_view = np.frombuffer(self._near_i, np.int16)
        self.far_frames = 0      # far-end frames given to the canceller
        self.near_frames = 0     # microphone frames processed

    def far_end(self, block: np.ndarray) -> None:
        """The output path: the samples (n, far_channels) it is handing to the device now."""
        self.ring.write(block)

    def _feed_far(self) -> None:
        while self.ring.available() >= FRAME:
            self.ring.read(self._far_f)
            _to_int16(self._far_f, self._far_view)
            self._apm.process_reverse_stream(self._far_frame)
            self.far_frames += 1

    def process(self, near: np.ndarray) -> tuple[np.ndarray, bool]:
        """One 10 ms microphone frame (480,) float32 in [-1, 1] -> (cleaned (480,) float32, speech?)."""
        near = np.asarray(near, np.float32).reshape(-1)
        if near.size != FRAME:
            raise ValueError(f"process takes {FRAME} samples (10 ms at 48 kHz), got {near.size}")
        self._feed_far()
        self._near_f[:] = near
        _to_int16(self._near_f, self._near_view)
        if self.echo_cancellation:
            self._apm.set_stream_delay_ms(self.delay_ms)
        self._apm.process_stream(self._near_frame)
        self.near_frames += 1
        vad = bool(self._vad.is_speech(self._near_i, SAMPLE_RATE))
        return self._near_view.astype(np.float32) * (1.0 / 32768.0), vad

    def stats(self) -> dict:
        return {"far_frames": self.far_frames, "near_frames": self.near_frames,
                "far_overruns": self.ring.overruns}


class FrameChunker:
    """Blocks of any length in, whole 10 ms frames out: ``push(x (n,)) -> list of (480,) float32``
    (each a fresh array). For callers whose microphone blocks are not 10 ms (e.g. 256 samples)."""

    def __init__(self, frame: int = FRAME):
        self.frame = int(frame)
        self._buf = np.zeros(self.frame, np.float32)
        self._fill = 0

    @property
    def held(self) -> int:
        """Samples of an incomplete frame waiting for the next push."""
        return self._fill

    def push(self, x: np.ndarray) -> list[np.ndarray]:
        x = np.asarray(x, np.float32).reshape(-1)
        out, pos = [], 0
        while pos < x.size:
            take = min(self.frame - self._fill, x.size - pos)
            self._buf[self._fill:self._fill + take] = x[pos:pos + take]
            self._fill += take
            pos += take
            if self._fill == self.frame:
                out.append(self._buf.copy())
                self._fill = 0
        return out

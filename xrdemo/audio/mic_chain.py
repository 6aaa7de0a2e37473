"""The sender thread's microphone work, in one call: captured samples -> 10 ms frames -> echo
cancellation, noise suppression, gain (``MicProcessor``) -> mute / push-to-talk (``MicGate``) ->
20 ms Opus packets (``net.voice.VoiceSender``).

``MicChain.push(samples, t_ms) -> packets`` takes whatever the capture ring holds (any length) and
returns only packets the gate let through: muted audio is never encoded. A 20 ms packet is made
from two consecutive 10 ms frames that were both admitted, so the encoder never joins audio from
before and after a mute. While closed, the sender's sequence numbers keep pace with the clock
(one per 20 ms withheld), so a receiver sees a gap in a continuous stream, not a restarted sender.
``speaking`` (voice activity with onset and release smoothing) and ``level`` (0..1 from the cleaned
audio) drive lips and turn-taking cues; neither counts the far end's echo.
"""

from __future__ import annotations

import numpy as np

from .mic_processing import FRAME, FrameChunker

SEQ_MOD = 1 << 16


class Speaking:
    """Per-10 ms voice activity -> a steady "speaking" flag: on after ``onset`` speech frames among
    the last ``window``, off after ``release_frames`` frames without speech."""

    def __init__(self, onset: int = 3, window: int = 5, release_frames: int = 30):
        self._recent = np.zeros(window, bool)
        self._at = 0
        self._onset = onset
        self._release = release_frames
        self._quiet = release_frames
        self.speaking = False

    def update(self, vad: bool) -> bool:
        self._recent[self._at] = vad
        self._at = (self._at + 1) % self._recent.size
        self._quiet = 0 if vad else self._quiet + 1
        if not self.speaking and self._recent.sum() >= self._onset:
            self.speaking = True
        elif self.speaking and self._quiet >= self._release:
            self.speaking = False
        return self.speaking


class MicChain:
    """processor: a MicProcessor (or anything with ``process(frame) -> (frame, vad)``); gate: a
    MicGate; sender: a VoiceSender (20 ms frames at 48 kHz), or None to only analyse."""

    def __init__(self, processor, gate, sender=None, sample_rate: int = 48000):
        self.processor, self.gate, self.sender = processor, gate, sender
        self.sample_rate = sample_rate
        self._chunker = FrameChunker(FRAME)
        self._pair = np.zeros(2 * FRAME, np.float32)
        self._pair_fill = 0              # 10 ms frames in _pair (0 or 1)
        self._pair_t_ms = 0
        self._withheld = 0               # 10 ms frames withheld since the last packet
        self._speaking = Speaking()
        self.speaking = False
        self.level_db = -120.0
        self.frames = 0

    @property
    def level(self) -> float:
        """0..1 voice level of the cleaned microphone (-55 dBFS -> 0, -15 dBFS -> 1) while speaking."""
        if not self.speaking:
            return 0.0
        return float(np.clip((self.level_db + 55.0) / 40.0, 0.0, 1.0))

    def push(self, samples: np.ndarray, t_ms: int) -> list[tuple[int, int, bytes]]:
        """samples (n,) float32 captured from sender-clock time t_ms (ms of samples[0]).
        Returns the packets to send, [(seq, t_ms, payload)]."""
        x = np.asarray(samples, np.float32).reshape(-1)
        # the chunker may hold part of a frame from the last push: date frames from the end
        held = self._chunker.held
        out = []
        frames = self._chunker.push(x)
        for i, frame in enumerate(frames):
            start_ms = (t_ms + round((i * FRAME - held) * 1000 / self.sample_rate)) % (1 << 32)
            out += self._frame(frame, start_ms)
        return out

    def _frame(self, frame: np.ndarray, t_ms: int) -> list:
        cleaned, vad = self.processor.process(frame)
        self.frames += 1
        self.speaking = self._speaking.update(vad)
        rms = float(np.sqrt(np.mean(np.square(cleaned, dtype=np.float64))))
        self.level_db = 20.0 * np.log10(max(rms, 1e-6))
        admitted = self.gate.admit(cleaned, vad)
        if admitted is None:
            self._withheld += 1 + self._pair_fill
            self._pair_fill = 0
            return []
        if self._pair_fill == 0:
            self._pair[:FRAME] = admitted
            self._pair_fill, self._pair_t_ms = 1, t_ms
            return []
        self._pair[FRAME:] = admitted
        self._pair_fill = 0
        if self.sender is None:
            return []
        if self._withheld:
            # keep the sequence in step with the clock: one number per 20 ms not sent
            self.sender.seq = (self.sender.seq + (self._withheld + 1) // 2) % SEQ_MOD
            self._withheld = 0
        return self.sender.push(self._pair, self._pair_t_ms)

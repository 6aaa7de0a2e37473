"""Voices for the people of a meeting: who is speaking becomes mono blocks at their mouths.

``MeetingVoices.next_block(speaking)`` turns a (N,) speaking flag into (N, block) mono samples:
each person has a clip (from assets/voices, varied in pitch per person) and a play head that
advances only while they speak; starts and stops are ramped so turns never click. Energy per
person comes back with every block, for lips, jaw and the speaking indicator.
"""

from __future__ import annotations

import numpy as np

from .voices import VoiceActivity, load_voices, resample

RAMP_S = 0.012
"""Seconds of fade when someone starts or stops speaking."""


class MeetingVoices:
    """Clips and play heads for N people (person k uses clip k mod the clip count).

    sample_rate: Hz; block: samples per block; seed: varies each person's pitch (±6 %) and start
    position so two people with the same clip do not sound identical. ``silent`` people (e.g. the
    local user, whose voice is their own) are never rendered.
    """

    def __init__(self, n: int, sample_rate: int = 48000, block: int = 256, seed: int = 0,
                 silent: tuple[int, ...] = ()):
        self.n, self.sample_rate, self.block = n, sample_rate, block
        rng = np.random.default_rng([seed, n, 0xA0D])
        base = load_voices(sample_rate)
        self.clips = []
        for k in range(n):
            clip = base[k % len(base)]
            factor = 1.0 + 0.06 * (2.0 * rng.random() - 1.0) if k >= len(base) else 1.0
            if factor != 1.0:   # playing a resampled clip at the old rate shifts the pitch
                clip = resample(clip, sample_rate, int(round(sample_rate * factor)))
            self.clips.append(np.concatenate([clip, np.zeros(int(0.35 * sample_rate), np.float32)]))
        self.heads = np.array([int(rng.random() * len(c)) for c in self.clips])
        self.gain = np.zeros(n)                          # current ramp gain 0..1
        self.silent = np.zeros(n, bool)
        self.silent[list(silent)] = True
        self._step = block / (RAMP_S * sample_rate)      # gain change per block
        self._ramp = (np.arange(block) + 1.0) / block
        self.activity = VoiceActivity(n, block / sample_rate)
        self.out = np.zeros((n, block), np.float32)

    def next_block(self, speaking: np.ndarray):
        """Mono blocks (N, block) float32 for this block, and (level (N,) 0..1, active (N,) bool).

        speaking: (N,) bool, who talks during this block.
        """
        target = np.where(np.asarray(speaking, bool) & ~self.silent, 1.0, 0.0)
        new_gain = np.clip(self.gain + np.clip(target - self.gain, -self._step, self._step), 0.0, 1.0)
        out = self.out
        out[:] = 0.0
        for k in np.flatnonzero((new_gain > 0) | (self.gain > 0)):
            clip = self.clips[k]
            idx = (self.heads[k] + np.arange(self.block)) % len(clip)
            env = self.gain[k] + (new_gain[k] - self.gain[k]) * self._ramp
            out[k] = clip[idx] * env
            self.heads[k] = (self.heads[k] + self.block) % len(clip)
        self.gain = new_gain
        level, active = self.activity.update(out)
        return out, (level, active)

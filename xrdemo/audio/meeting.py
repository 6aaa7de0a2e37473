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


class LiveMeetingAudio:
    """Live binaural audio of a meeting for the local person, rendered in its own process.

    The audio process (``realtime.AudioProcess``) owns the sound device, the engine and the voices
    and plays on the device's own clock. The render loop calls ``publish(...)`` once per frame: the
    newest head pose, people's mouths, who speaks and the whisper gains go into shared memory
    through a seqlock (never waits, never blocks the audio). ``level`` is each person's voice level
    as rendered there (for lips and the speaking indicator). With no sound device it says so in one
    line and stays silent (``device`` is then None); if the audio process dies, it says so once and
    the meeting carries on silent. ``close()`` stops and joins the process.
    """

    CHECK_EVERY = 16   # publishes between liveness checks of the audio process (~0.2 s at 90 Hz)

    def __init__(self, n: int, local: int, sample_rate: int = 48000, block: int = 256, seed: int = 0,
                 reflections: bool = False, table_height: float = 0.74, log=print, ahead: int | None = None,
                 device=None, priority: bool = True, render_delay_s: float = 0.0,
                 remote_voices: bool = False):
        from .engine import whisper_gains_from_pairs
        from .realtime import DEFAULT_AHEAD, AudioProcess

        self.n, self.local, self.log = n, local, log
        self._whisper_gains = whisper_gains_from_pairs
        self._publishes = 0
        self.process = AudioProcess(n, local, sample_rate, block, seed=seed, reflections=reflections,
                                    table_height=table_height, ahead=ahead or DEFAULT_AHEAD, device=device,
                                    priority=priority, render_delay_s=render_delay_s,
                                    remote_voices=remote_voices)
        p = self.process
        if p.running:
            latency = 1000.0 * p.ahead * block / sample_rate
            log(f"audio: playing on {p.device} (audio process {p.process.pid}, "
                f"{p.ahead} blocks = {latency:.1f} ms ahead, {p.info.get('priority')} priority)")
        elif p.state == "no-device":
            log(f"audio: no sound device ({p.reason}); the meeting is silent")
        else:
            log(f"audio: off ({p.reason}); the meeting is silent")

    @property
    def device(self) -> str | None:
        """The output device's name while the audio process plays, else None."""
        return self.process.device if self.process.running else None

    @property
    def voice_port(self) -> int | None:
        """Loopback UDP port where the audio process takes network voice frames (remote_voices)."""
        return self.process.info.get("voice_port") if self.process.running else None

    @property
    def level(self) -> np.ndarray:
        """Voice level per person (N,) 0..1 (zeros while silent)."""
        return self.process.levels()

    def publish(self, head_pos, head_rot, mouths: np.ndarray, heads: np.ndarray, speaking: np.ndarray,
                whisper_pairs=()):
        """From the render loop: listener pose, mouths (N, 3), heads (N, 3), speaking (N,) bool,
        whisper_pairs (P, 2) int: who whispers with whom (``scene.whisper_pairs_now``, the core's
        one decision with hysteresis and dwell)."""
        if not self.process.running:
            return
        self._publishes += 1
        if self._publishes % self.CHECK_EVERY == 0 and not self.process.poll():
            self.log(f"audio: {self.process.reason}; carrying on without sound")
            return
        col = (self._whisper_gains(whisper_pairs, len(heads))[:, self.local] if self.local >= 0
               else np.ones(len(heads)))
        self.process.publish(head_pos, head_rot, mouths, speaking, col)

    def stats(self) -> dict:
        return self.process.stats()

    def close(self) -> None:
        """Stop and join the audio process; say how it went (blocks played, underruns) once."""
        was_running = self.process.running
        self.process.close()
        if was_running:
            st = self.process.stats()
            self.log(f"audio: played {st.get('callbacks', 0)} blocks, {st.get('underruns', 0)} underruns")

"""Binaural sound for video frames (headless recordings and replays), rendered block by block
for one listener seat on the recording's own clock.

``FrameSound`` holds the engine and the samples rendered past the end of the previous frame (they
begin the next one); each subclass says where a block's voices come from:
``ScriptedSound`` (the built-in voices of a local meeting), ``RoomSound`` (a networked room's
jitter buffers, read in real time) and ``NetSound`` (recorded voice frames, read on the
recording's clock). ``level`` (N,) is the newest voice level per person (lips follow it), and
``mouth`` (N, 5) the newest mouth shapes from the same sound (``audio/visemes.py``).
"""

from __future__ import annotations

import time

import numpy as np

from ..audio.visemes import VisemeAnalyser
from ..config import Config
from ..core import scene as S

NS = 1_000_000_000
LAG_SLACK_NS = 100_000_000
"""How far behind real time a headless participant may ask the voice jitter buffers for a block
before its audio clock follows real time (more would overflow them and fall silent)."""


class FrameSound:
    """The engine, the samples pending past the previous frame, and the newest voice levels."""

    def __init__(self, cfg: Config, state: S.MeetingState, seat: int):
        from ..audio.engine import SpatialAudioEngine, whisper_gains_from_pairs

        self.rate, self.block = cfg.audio.sample_rate, cfg.audio.block
        self.engine = SpatialAudioEngine(self.rate, self.block, reflections=cfg.audio.reflections,
                                         table_height=state.table.height)
        self.whisper_gains = whisper_gains_from_pairs
        self.seat = seat
        self.rendered = 0
        self.pending = np.zeros((0, 2), np.float32)
        self.level = np.zeros(len(state.people))
        self.visemes = VisemeAnalyser(len(state.people), self.rate, self.block)
        self.mouth = np.zeros((len(state.people), 5))
        """(N, 5) newest mouth weights per person from the voices as rendered (core/visemes.py)."""
        self.block_us: list[float] = []
        """CPU microseconds of each engine block (metrics)."""

    def place(self, state: S.MeetingState, listener) -> None:
        """Sources at everyone's mouth, the listener (position (3,), orientation (4,)) and the
        whisper gains toward this seat, for the frame about to be rendered."""
        ppl = state.people
        self.engine.set_sources(S.mouth_positions(ppl))
        self.engine.set_listener(*listener)
        # The core's one whisper decision (hysteresis, dwell), not the raw head distances.
        self.engine.set_whisper_gains(self.whisper_gains(S.whisper_pairs_now(state), len(ppl))[:, self.seat])

    def blocks_until(self, sample_end: int, next_block) -> np.ndarray:
        """Exactly the samples since the previous call up to sample_end (stereo float32).
        next_block(first_sample) -> (mono (N, block), level (N,) or None) gives each block."""
        chunks = [self.pending]
        start = self.rendered - len(self.pending)
        while self.rendered < sample_end:
            mono, level = next_block(self.rendered)
            t0 = time.perf_counter()
            chunks.append(np.array(self.engine.process(mono), np.float32))
            self.block_us.append((time.perf_counter() - t0) * 1e6)
            if level is not None:
                self.level = level
            self.mouth = self.visemes.update(mono).copy()
            self.rendered += self.block
        allsamp = np.concatenate(chunks)
        take = sample_end - start
        out, self.pending = allsamp[:take], allsamp[take:]
        return out

    def push(self, *_args) -> None:
        """A voice frame arrived (only sounds fed from the network use it)."""


class ScriptedSound(FrameSound):
    """The built-in voices of a local meeting, as the live run plays them. listener_at(t_s) ->
    (position, orientation), when given, moves the listener block by block (a scripted head)."""

    def __init__(self, cfg: Config, state: S.MeetingState, seat: int, listener_at=None):
        from ..audio.meeting import MeetingVoices

        super().__init__(cfg, state, seat)
        self.voices = MeetingVoices(len(state.people), self.rate, self.block, seed=cfg.meeting.seed,
                                    silent=(seat,))
        self.listener_at = listener_at

    def render_until(self, state: S.MeetingState, sample_end: int, listener, **_clock) -> np.ndarray:
        self.place(state, listener)
        speaking = S.speaking_now(state)

        def next_block(first_sample):
            if self.listener_at is not None:
                pos, rot = self.listener_at(first_sample / self.rate)
                self.engine.set_listener(pos, rot)
            mono, (level, _) = self.voices.next_block(speaking)
            return mono, level
        return self.blocks_until(sample_end, next_block)


class RoomSound(FrameSound):
    """A networked room's voices for a headless participant, read from the jitter buffers in
    real time. t_origin_ns: the meeting's start on the monotonic clock (set before the first frame)."""

    def __init__(self, cfg: Config, state: S.MeetingState, voices, t_origin_ns: int = 0):
        super().__init__(cfg, state, state.local)
        self.voices = voices
        self.t_origin_ns = t_origin_ns

    def render_until(self, state: S.MeetingState, sample_end: int, listener, **_clock) -> np.ndarray:
        """The samples since the previous call up to sample_end. Each block is taken from the
        jitter buffers at its own time on the sample clock."""
        self.seat = self.voices.local = state.local
        self.place(state, listener)
        # When this machine falls behind real time (a slow start, a stall, a slow renderer), ask the
        # jitter buffers for "now less the slack", not for the past; as the frames catch up again the
        # shift shrinks with them. (Jumping the clock once and keeping the jump would run the audio
        # ahead of real time after the catch-up, into packets that have not come yet: silence.)
        lag = time.monotonic_ns() - (self.t_origin_ns + self.rendered * NS // self.rate)
        shift_ns = max(0, lag - LAG_SLACK_NS)  # how much later than its place in the recording

        def next_block(first_sample):
            t_ns = self.t_origin_ns + shift_ns + first_sample * NS // self.rate
            mono, (level, _) = self.voices.next_block(None, t_ns)
            return mono, level
        return self.blocks_until(sample_end, next_block)


class NetSound(FrameSound):
    """Recorded voice frames of a networked room, for one seat's ears. The jitter buffers are
    read on the recording's clock: the blocks of a video frame are taken at that frame's recorded
    time plus their offset in it, so a recording whose frame loop fell behind real time still
    plays its voices as they arrived."""

    def __init__(self, cfg: Config, state: S.MeetingState, seat: int):
        from ..net.room_audio import RemoteVoices

        super().__init__(cfg, state, seat)
        self.voices = RemoteVoices(len(state.people), self.rate, self.block, local=seat)

    def push(self, d) -> None:
        self.voices.push(d.seat, d.seq, d.t_ms, d.payload, d.t_ns)

    def render_until(self, state: S.MeetingState, sample_end: int, listener, frame_start: int = 0,
                     frame_t_ns: int = 0) -> np.ndarray:
        """Samples up to sample_end; a block starting at sample s is read from the jitter buffers
        at frame_t_ns + (s - frame_start) / rate (frame_start: this video frame's first sample)."""
        self.place(state, listener)

        def next_block(first_sample):
            mono, _ = self.voices.next_block(None, frame_t_ns + (first_sample - frame_start) * NS // self.rate)
            return mono, None
        return self.blocks_until(sample_end, next_block)

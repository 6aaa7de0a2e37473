"""Seeded turn-taking for scripted people, and who holds the floor (also for real voices).

A conversation is a queue of *turns*; a turn is one speaker saying 1–5 *phrases* separated by short
within-turn pauses. Between turns there is a gap that is usually a short pause and sometimes a small
overlap (the next speaker starts before the last phrase ends) or a longer lull — not a fixed loop:
speakers, lengths and gaps are drawn from a ``numpy.random.Generator`` held in the state.

Per frame (:func:`conversation_step`, time in seconds passed in) it gives, vectorised over N people:
``speaking`` (holds a turn, incl. its within-turn pauses), ``energy`` (a syllabic speech envelope,
0..1, from the script or from real audio when given), ``beat`` (a pulse on stressed syllables that
leads the syllable by ~80 ms, for gesture strokes) and ``floor`` (who holds the floor: the speaker
whose turn started last, -1 in a lull).

The audio layer reads :meth:`ConversationState.schedule` (the current and the next few turns, with
exact phrase times) to start voice clips; it may then pass the clips' measured energy back in
(``voice_energy``), which replaces the synthetic envelope for those people.
Real (non-scripted) people get ``speaking`` from a voice-activity detector with hysteresis and a
hangover on their energy; scripted speakers do not start a new turn while a real person talks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

_NONE = -1.0e9
"""Phrase start/end meaning "no phrase" (far in the past, so every envelope is 0)."""

MAX_PHRASES = 5
"""Phrases per turn, at most (the per-person phrase table is (N, MAX_PHRASES))."""


@dataclass
class ConversationConfig:
    """Parameters of the turn-taking model (seconds unless noted)."""

    phrase_median_s: float = 1.8      # phrase (intonation unit) length, log-normal median
    phrase_sigma: float = 0.45        # log-normal sigma of phrase length
    phrases_mean: float = 2.3         # mean phrases per turn (1 + geometric)
    pause_s: tuple = (0.15, 0.6)      # within-turn pause, uniform
    gap_mean_s: float = 0.25          # between-turn gap, normal; negative = overlap
    gap_sd_s: float = 0.35
    gap_min_s: float = -0.5           # largest overlap
    lull_prob: float = 0.12           # chance of a longer lull between turns
    lull_s: tuple = (1.0, 3.0)
    syllable_hz: tuple = (3.5, 5.5)   # syllable rate, uniform per turn
    beat_lead_s: float = 0.08         # gesture stroke leads the stressed syllable
    lookahead_turns: int = 3          # turns kept scheduled ahead for the audio layer
    vad_on: float = 0.15              # real-voice activity: on above, off below vad_off
    vad_off: float = 0.05
    vad_hangover_s: float = 0.4       # stays "speaking" this long after falling below vad_off


@dataclass
class Turn:
    """One scripted turn: ``speaker`` says phrases ``starts[k]..ends[k]`` (seconds)."""

    speaker: int
    starts: np.ndarray  # (P,) seconds
    ends: np.ndarray    # (P,) seconds
    syllable_hz: float
    stress_every: int   # every k-th syllable is stressed
    stress_phase: int

    @property
    def start(self) -> float:
        return float(self.starts[0])

    @property
    def end(self) -> float:
        return float(self.ends[-1])

    def shifted(self, dt: float) -> "Turn":
        return Turn(self.speaker, self.starts + dt, self.ends + dt, self.syllable_hz,
                    self.stress_every, self.stress_phase)


@dataclass
class ConversationState:
    """Mutable state; build with :func:`new_conversation`. Arrays are per person (N,)."""

    n: int
    scripted: np.ndarray          # (N,) bool: driven by the script (else by real voice energy)
    rng: np.random.Generator
    cfg: ConversationConfig
    talkativeness: np.ndarray     # (N,) relative chance to take the next turn
    queue: list = field(default_factory=list)      # upcoming Turns, in start order
    history: list = field(default_factory=list)    # recent started Turns (bounded)
    # The active turn per person: phrase table and prosody.
    ph_start: np.ndarray = None   # (N, MAX_PHRASES) seconds, inf = none
    ph_end: np.ndarray = None     # (N, MAX_PHRASES)
    turn_start: np.ndarray = None  # (N,) start of the person's current/last turn (or VAD onset)
    turn_end: np.ndarray = None    # (N,) end of it (inf while a real voice is on)
    cur_start: np.ndarray = None  # (N,) the person's current or next phrase (end > t), _NONE = none
    cur_end: np.ndarray = None    # (N,)
    next_phrase_s: float = math.inf  # earliest cur_end: when the current phrases must advance
    syl_hz: np.ndarray = None     # (N,)
    stress_every: np.ndarray = None  # (N,) float
    stress_phase: np.ndarray = None  # (N,) float
    lead_syllables: np.ndarray = None  # (2, N): 0, and the beat lead in syllables
    last_speaker: int = -1
    next_event_s: float = math.inf  # start of queue[0]
    vad_on: np.ndarray = None     # (N,) bool
    vad_last_loud: np.ndarray = None  # (N,) seconds
    phrase_rows: list = field(default_factory=list)  # (person, start, end, syl_hz, lead, phase, every)
    # of everyone with a current or next phrase (the only people whose envelope is not 0), as floats

    def schedule(self) -> list:
        """The turns an audio layer should know about: started ones still running, then upcoming."""
        return [tr for tr in self.history[-2:]] + list(self.queue)


def new_conversation(n: int, rng: np.random.Generator, scripted=None, t0_s: float = 0.0,
                     cfg: ConversationConfig | None = None) -> ConversationState:
    """A conversation among ``n`` people (1..64); the first turn starts shortly after ``t0_s``."""
    if n < 1:
        raise ValueError("a conversation needs at least one person")
    scripted = np.ones(n, bool) if scripted is None else np.asarray(scripted, bool).copy()
    cfg = cfg or ConversationConfig()
    st = ConversationState(
        n=n, scripted=scripted, rng=rng, cfg=cfg,
        talkativeness=rng.lognormal(0.0, 0.4, n),
        ph_start=np.full((n, MAX_PHRASES), _NONE), ph_end=np.full((n, MAX_PHRASES), _NONE),
        turn_start=np.full(n, -np.inf), turn_end=np.full(n, -np.inf),
        cur_start=np.full(n, _NONE), cur_end=np.full(n, _NONE),
        syl_hz=np.full(n, 4.5), stress_every=np.full(n, 3.0), stress_phase=np.zeros(n),
        lead_syllables=np.zeros((2, n)), vad_on=np.zeros(n, bool), vad_last_loud=np.full(n, -np.inf),
    )
    if scripted.any():
        t = t0_s + float(rng.uniform(0.3, 1.2))
        prev = -1
        for _ in range(cfg.lookahead_turns):
            tr = _draw_turn(st, prev, t)
            st.queue.append(tr)
            prev, t = tr.speaker, tr.end + _draw_gap(st, tr.speaker)
        st.next_event_s = st.queue[0].start
    return st


def _draw_gap(st: ConversationState, speaker: int) -> float:
    cfg, rng = st.cfg, st.rng
    if rng.random() < cfg.lull_prob or st.scripted.sum() == 1:
        return float(rng.uniform(*cfg.lull_s))
    return float(max(cfg.gap_min_s, rng.normal(cfg.gap_mean_s, cfg.gap_sd_s)))


def _draw_turn(st: ConversationState, prev: int, start: float) -> Turn:
    cfg, rng = st.cfg, st.rng
    w = st.talkativeness * st.scripted
    if prev >= 0 and w.sum() - w[prev] > 0:
        w = w.copy()
        w[prev] *= 0.08  # the same speaker rarely takes two turns in a row
    speaker = int(rng.choice(st.n, p=w / w.sum()))
    k = min(MAX_PHRASES, int(rng.geometric(1.0 / max(cfg.phrases_mean, 1.0))))
    lengths = np.clip(rng.lognormal(math.log(cfg.phrase_median_s), cfg.phrase_sigma, k), 0.5, 6.0)
    pauses = rng.uniform(*cfg.pause_s, k)
    pauses[0] = 0.0
    starts = start + np.cumsum(pauses) + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths
    return Turn(speaker, starts, ends, float(rng.uniform(*cfg.syllable_hz)),
                int(rng.integers(2, 5)), int(rng.integers(0, 4)))


def _start_due_turns(st: ConversationState, t: float, real_speaking: bool) -> None:
    while st.queue and t >= st.queue[0].start:
        tr = st.queue[0]
        if real_speaking:
            # Yield to a real person: postpone this and every later turn.
            dt = t + 0.3 - tr.start
            st.queue = [q.shifted(dt) for q in st.queue]
            break
        st.queue.pop(0)
        i = tr.speaker
        p = len(tr.starts)
        st.ph_start[i] = _NONE
        st.ph_end[i] = _NONE
        st.ph_start[i, :p] = tr.starts
        st.ph_end[i, :p] = tr.ends
        st.turn_start[i] = tr.start
        st.turn_end[i] = tr.end
        st.syl_hz[i] = tr.syllable_hz
        st.stress_every[i] = tr.stress_every
        st.stress_phase[i] = tr.stress_phase
        st.lead_syllables[1, i] = tr.syllable_hz * st.cfg.beat_lead_s
        st.history.append(tr)
        if len(st.history) > 32:
            del st.history[0]
        last = st.queue[-1] if st.queue else tr
        gap = _draw_gap(st, last.speaker)
        st.queue.append(_draw_turn(st, last.speaker, last.end + gap))
    st.next_event_s = st.queue[0].start if st.queue else math.inf
    _advance_phrases(st, t)


def _advance_phrases(st: ConversationState, t: float) -> None:
    """Point each person's current phrase at their first phrase that has not ended by t."""
    future = st.ph_end > t
    k = np.argmax(future, axis=1)
    rows = np.arange(st.n)
    has = future[rows, k]
    st.cur_start = np.where(has, st.ph_start[rows, k], _NONE)
    st.cur_end = np.where(has, st.ph_end[rows, k], _NONE)
    st.next_phrase_s = float(np.where(has, st.cur_end, np.inf).min())
    rows = np.flatnonzero(has)
    st.phrase_rows = list(zip(rows.tolist(), st.cur_start[rows].tolist(), st.cur_end[rows].tolist(),
                              st.syl_hz[rows].tolist(), st.lead_syllables[1, rows].tolist(),
                              st.stress_phase[rows].tolist(), st.stress_every[rows].tolist()))


@dataclass
class ConversationFrame:
    """Per-person conversation signals at one instant (all (N,))."""

    speaking: np.ndarray  # bool: holds a turn (scripted) or voice active (real)
    energy: np.ndarray    # float 0..1 speech envelope
    beat: np.ndarray      # float 0..1 stressed-syllable pulse, leading by beat_lead_s
    floor: int            # who holds the floor, -1 in a lull
    floor_changed: bool   # the floor holder differs from the previous frame


def _envelope(st: ConversationState, t: float):
    """Scripted speech energy and stressed-beat pulse at t. -> (N,), (N,) in 0..1.

    Syllables are raised-cosine bumps at the turn's syllable rate; every ``stress_every``-th one is
    stressed (full height; others 0.65). The beat pulse is the stressed bumps only, evaluated
    ``beat_lead_s`` ahead so a gesture stroke lands just before the stressed syllable.
    Both are 0 for anyone without a current or next phrase, so only those few people
    (``phrase_rows``, usually the speaker) are evaluated, as plain floats.
    """
    energy = np.zeros(st.n)
    beat = np.zeros(st.n)
    for i, start, end, syl_hz, lead, phase, every in st.phrase_rows:
        since = t - start
        ramp = min(max(min(since * (1.0 / 0.06), (end - t) * (1.0 / 0.12)), 0.0), 1.0)
        x = syl_hz * since + 0.0                                # now
        xb = syl_hz * since + lead                              # a beat lead ahead
        stressed = math.fmod(math.floor(x) + phase, every) < 0.5
        stressed_b = math.fmod(math.floor(xb) + phase, every) < 0.5
        energy[i] = ramp * (0.625 - 0.375 * math.cos(x * (2.0 * math.pi))) * (0.65 + 0.35 * stressed)
        beat[i] = ramp * (0.5 - 0.5 * math.cos(xb * (2.0 * math.pi))) * stressed_b
    return energy, beat


def conversation_step(st: ConversationState, t: float, voice_energy=None) -> ConversationFrame:
    """Advance to time ``t`` (seconds) and return the per-person signals.

    voice_energy: optional (N,) float, measured speech energy 0..1 (NaN where unknown). Where finite
    it replaces the scripted envelope; for non-scripted people it also drives the VAD.
    """
    cfg = st.cfg
    if voice_energy is not None:
        ve = np.asarray(voice_energy, float)
        have = np.isfinite(ve)
        real = ~st.scripted
    else:
        ve, have, real = None, None, None
    if ve is not None and real.any():
        e = np.where(have & real, ve, 0.0)
        loud = e > cfg.vad_on
        st.vad_last_loud = np.where(e > cfg.vad_off, t, st.vad_last_loud)
        newly = loud & ~st.vad_on
        st.turn_start = np.where(newly, t, st.turn_start)
        st.vad_on = (st.vad_on | loud) & ((t - st.vad_last_loud) <= cfg.vad_hangover_s) & real
        st.turn_end = np.where(st.vad_on, np.inf, np.where(real, np.minimum(st.turn_end, t), st.turn_end))
    if t >= st.next_event_s:
        _start_due_turns(st, t, bool(st.vad_on.any()))

    if t >= st.next_phrase_s:
        _advance_phrases(st, t)
    energy, beat = _envelope(st, t)
    if ve is not None:
        energy = np.where(have, np.clip(np.nan_to_num(ve), 0.0, 1.0), energy)
    speaking = (t >= st.turn_start) & (t < st.turn_end)
    if np.count_nonzero(speaking):
        floor = int(np.argmax(np.where(speaking, st.turn_start, -np.inf)))
    else:
        floor = -1
    changed = floor != st.last_speaker
    st.last_speaker = floor
    return ConversationFrame(speaking, energy, beat, floor, changed)

"""Seeded turn-taking for scripted people, and who holds the floor (also for real voices).

A conversation is a queue of *turns*; a turn is one speaker saying one or more *phrases* separated
by short within-turn pauses. Most turns are one or two phrases (about 2 s in all, as turns in
conversation are: Levinson & Torreira 2015); a few are long (telling something), so the lengths are
long-tailed with no cap in sight (``MAX_PHRASES`` only sizes arrays; longer draws are redrawn, never
clipped). Between turns there is a gap: mostly short (mode 0–200 ms, some overlap: Stivers et al.
2009; Heldner & Edlund 2010) and sometimes a lull, whose length has an exponential tail (no cutoff).

Listeners give *backchannels* (Yngve's "mm-hm", "yeah", nods: ~19 % of utterances in Switchboard,
Jurafsky, Shriberg & Biasca 1997) mostly in the speaker's within-turn pauses and sometimes over the
end of a phrase: a short vocal burst (0.2–0.6 s, it never takes the floor) and/or a head nod (a
pitch dip of a few degrees over ~0.5 s). Some turns end in a *question* (the speaker's brows rise
over its last half second and the wait after it) and some end in *laughter* (Provine 1993: at phrase
ends, speakers more often than listeners; listeners join).

Per frame (:func:`conversation_step`, time in seconds passed in) it gives, vectorised over N people:
``speaking`` (holds a turn, incl. its within-turn pauses; backchannels do not count), ``energy``
(a syllabic speech envelope, 0..1, from the script or from real audio when given; backchannel bursts
included), ``beat`` (a pulse on stressed syllables that leads the syllable by ~80 ms, for gesture
strokes), ``floor`` (who holds the floor: the speaker whose turn started last, -1 in a lull) and the
cues ``backchannel`` (vocal backchannel level), ``nod`` (head pitch offset, radians, <= 0),
``question`` (0..1 brow raise of a question) and ``laugh`` (0..1 laughing), each None while no
such cue runs.

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

MAX_PHRASES = 16
"""Phrases per turn, at most (the per-person phrase table is (N, MAX_PHRASES)). Draws above it are
redrawn; with the default config that happens to about one turn in 10^4."""

VOCAL, NOD, LAUGH, QUESTION = 0, 1, 2, 3
"""Kinds of cue events (``ConversationState.cues``): a listener's vocal backchannel and nod,
laughter, and a question's brow raise (its last moments and the wait for an answer)."""


@dataclass
class ConversationConfig:
    """Parameters of the turn-taking model (seconds unless noted)."""

    phrase_min_s: float = 0.65        # phrase (intonation unit) length: min + log-normal excess
    phrase_excess_median_s: float = 0.45
    phrase_sigma: float = 0.7         # log-normal sigma of the excess
    phrase_max_s: float = 8.0
    phrases_short_mean: float = 1.3   # phrases per ordinary turn (1 + geometric)
    long_turn_prob: float = 0.08      # chance a turn is a long one (telling something)
    phrases_long_mean: float = 5.0
    pause_min_s: float = 0.12         # within-turn pause: min + log-normal excess, at most pause_max_s
    pause_excess_median_s: float = 0.22
    pause_sigma: float = 0.5
    pause_max_s: float = 0.95
    gap_mode_s: float = 0.2           # between-turn gap: normal around the mode; negative = overlap
    gap_sd_s: float = 0.3
    gap_min_s: float = -0.6           # largest overlap (draws below are redrawn, not clipped)
    lull_prob: float = 0.15           # chance of a longer lull between turns
    lull_min_s: float = 0.5           # lull = min + exponential (no upper cutoff)
    lull_mean_excess_s: float = 1.0
    syllable_hz: tuple = (3.5, 5.5)   # syllable rate, uniform per turn
    beat_lead_s: float = 0.08         # gesture stroke leads the stressed syllable
    lookahead_turns: int = 3          # turns kept scheduled ahead for the audio layer
    backchannel_pause_prob: float = 0.75  # a listener backchannels in a within-turn pause
    backchannel_phrase_prob: float = 0.08  # ... or over the end of a phrase
    backchannel_kinds: tuple = (0.4, 0.3, 0.3)  # vocal only, nod only, both
    vocal_s: tuple = (0.2, 0.6)       # backchannel burst length
    vocal_peak: tuple = (0.35, 0.65)  # its energy
    nod_s: tuple = (0.4, 0.6)         # nod: pitch dip length ...
    nod_deg: tuple = (3.0, 7.0)       # ... and depth
    question_prob: float = 0.15       # a turn ends in a question (modelling choice, see docs)
    question_lead_s: float = 0.5      # brows rise this long before the question ends ...
    question_wait_max_s: float = 2.0  # ... and stay up through the wait, at most this long
    laugh_prob: float = 0.10          # a turn ends in laughter
    laugh_speaker_prob: float = 0.75  # the speaker laughs in it (else only listeners)
    laugh_listeners: float = 0.5      # chance at least one listener joins
    laugh_median_s: float = 1.3
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
    question: bool = False   # the last phrase is a question
    laugh: bool = False      # laughter follows the turn

    @property
    def start(self) -> float:
        return float(self.starts[0])

    @property
    def end(self) -> float:
        return float(self.ends[-1])

    def shifted(self, dt: float) -> "Turn":
        return Turn(self.speaker, self.starts + dt, self.ends + dt, self.syllable_hz,
                    self.stress_every, self.stress_phase, self.question, self.laugh)


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
    # Cues: pending events (start, end, person, kind, amount) in start order, and the running ones.
    cues: list = field(default_factory=list)
    active_cues: list = field(default_factory=list)
    next_cue_s: float = math.inf  # start of cues[0]

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
    """Seconds from one turn's end to the next one's start (negative: overlap)."""
    cfg, rng = st.cfg, st.rng
    if rng.random() < cfg.lull_prob or st.scripted.sum() == 1:
        return float(cfg.lull_min_s + rng.exponential(cfg.lull_mean_excess_s))
    while True:
        g = float(rng.normal(cfg.gap_mode_s, cfg.gap_sd_s))
        if g >= cfg.gap_min_s:
            return g


def _phrase_count(cfg: ConversationConfig, rng: np.random.Generator) -> int:
    mean = cfg.phrases_long_mean if rng.random() < cfg.long_turn_prob else cfg.phrases_short_mean
    while True:
        k = int(rng.geometric(1.0 / max(mean, 1.0)))
        if k <= MAX_PHRASES:
            return k


def _draw_turn(st: ConversationState, prev: int, start: float) -> Turn:
    cfg, rng = st.cfg, st.rng
    w = st.talkativeness * st.scripted
    if prev >= 0 and w.sum() - w[prev] > 0:
        w = w.copy()
        w[prev] *= 0.08  # the same speaker rarely takes two turns in a row
    speaker = int(rng.choice(st.n, p=w / w.sum()))
    k = _phrase_count(cfg, rng)
    lengths = np.minimum(cfg.phrase_min_s + rng.lognormal(math.log(cfg.phrase_excess_median_s),
                                                          cfg.phrase_sigma, k), cfg.phrase_max_s)
    pauses = np.minimum(cfg.pause_min_s + rng.lognormal(math.log(cfg.pause_excess_median_s),
                                                        cfg.pause_sigma, k), cfg.pause_max_s)
    pauses[0] = 0.0
    starts = start + np.cumsum(pauses) + np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    ends = starts + lengths
    return Turn(speaker, starts, ends, float(rng.uniform(*cfg.syllable_hz)),
                int(rng.integers(2, 5)), int(rng.integers(0, 4)),
                question=bool(rng.random() < cfg.question_prob), laugh=bool(rng.random() < cfg.laugh_prob))


def _draw_cues(st: ConversationState, tr: Turn, t: float) -> None:
    """Backchannels in the turn that starts now, its question's brow window and its laughter."""
    cfg, rng = st.cfg, st.rng
    i = tr.speaker
    nxt = st.queue[0] if st.queue else None
    listeners = st.scripted.copy()
    listeners[i] = False
    listeners &= st.turn_end <= tr.start        # nobody still finishing their own turn
    if nxt is not None:
        listeners[nxt.speaker] = False          # the next speaker is getting ready to talk
    who = np.flatnonzero(listeners)
    events = []
    if len(who):
        slots = []                              # (earliest, latest) start of a backchannel
        for k in range(len(tr.starts)):
            if k + 1 < len(tr.starts) and rng.random() < cfg.backchannel_pause_prob:
                pause = tr.starts[k + 1] - tr.ends[k]
                slots.append((tr.ends[k] + 0.03, tr.ends[k] + 0.03 + 0.5 * pause))
            if rng.random() < cfg.backchannel_phrase_prob and tr.ends[k] - tr.starts[k] > 0.8:
                slots.append((tr.ends[k] - 0.6, tr.ends[k] - 0.2))
        for lo, hi in slots:
            j = int(who[rng.integers(len(who))])
            s = float(rng.uniform(lo, hi))
            kind = rng.choice(3, p=cfg.backchannel_kinds)
            if kind != 1:
                events.append((s, s + float(rng.uniform(*cfg.vocal_s)), j, VOCAL, float(rng.uniform(*cfg.vocal_peak))))
            if kind != 0:
                s2 = s + (0.05 if kind == 2 else 0.0)
                events.append((s2, s2 + float(rng.uniform(*cfg.nod_s)), j, NOD,
                               math.radians(float(rng.uniform(*cfg.nod_deg)))))
    if tr.question:
        wait = (nxt.start - tr.end) if nxt is not None else 1.0
        held_to = tr.end + min(max(wait + 0.3, 0.4), cfg.question_wait_max_s)
        events.append((tr.end - cfg.question_lead_s, held_to + _Q_FALL_S, i, QUESTION, 1.0))
    if tr.laugh:
        others = np.flatnonzero(st.scripted & (np.arange(st.n) != i))
        p_join = 1.0 - (1.0 - cfg.laugh_listeners) ** (1.0 / max(len(others), 1))
        laughing = [(j, float(rng.uniform(0.15, 0.6))) for j in others if rng.random() < p_join]
        if rng.random() < cfg.laugh_speaker_prob or not laughing:
            laughing.append((i, float(rng.uniform(0.0, 0.15))))
        for j, delay in laughing:
            s = tr.end + delay
            dur = float(np.clip(rng.lognormal(math.log(cfg.laugh_median_s), 0.4), 0.5, 4.0))
            events.append((s, s + dur, int(j), LAUGH, float(rng.uniform(0.6, 1.0))))
    if events:
        st.cues = sorted(st.cues + events)
        st.next_cue_s = st.cues[0][0]


_Q_RISE_S, _Q_FALL_S = 0.3, 0.35
"""A question's brow raise rises over the first 0.3 s of its cue and falls over its last 0.35 s."""


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
        _draw_cues(st, tr, t)
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
    energy: np.ndarray    # float 0..1 speech envelope (backchannel bursts included)
    beat: np.ndarray      # float 0..1 stressed-syllable pulse, leading by beat_lead_s
    floor: int            # who holds the floor, -1 in a lull
    floor_changed: bool   # the floor holder differs from the previous frame
    # The cues, each None while none of its kind runs (one scalar test for the consumers):
    backchannel: np.ndarray | None = None  # float 0..1 a vocal backchannel's level
    nod: np.ndarray | None = None          # float radians <= 0: head pitch offset of a nod
    question: np.ndarray | None = None     # float 0..1 brow raise of a question (its end and the wait)
    laugh: np.ndarray | None = None        # float 0..1 laughing


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


def _cue_signals(st: ConversationState, t: float):
    """Backchannel level, nod pitch, laugh level and question brow raise (N,) each, from the running
    cue events; None for a kind with no event running.

    Only called while some cue runs (usually one or two people), as plain floats per event:
    a backchannel burst is one raised-cosine bump; a nod dips the pitch as -depth * sin²(pi u);
    laughter ramps up over 0.15 s and down over the last 0.3 s; a question's raise eases in over
    0.3 s and out over the last 0.35 s.
    """
    if t >= st.next_cue_s:
        k = 0
        while k < len(st.cues) and st.cues[k][0] <= t:
            k += 1
        st.active_cues.extend(st.cues[:k])
        del st.cues[:k]
        st.next_cue_s = st.cues[0][0] if st.cues else math.inf
    live = [c for c in st.active_cues if c[1] > t]
    st.active_cues = live
    out = [None, None, None, None]              # VOCAL, NOD, LAUGH, QUESTION
    for s, e, j, kind, amount in live:
        if out[kind] is None:
            out[kind] = np.zeros(st.n)
        a = out[kind]
        u = (t - s) / (e - s)
        if kind == VOCAL:
            a[j] = max(a[j], amount * (0.5 - 0.5 * math.cos(2.0 * math.pi * u)))
        elif kind == NOD:
            a[j] = min(a[j], -amount * math.sin(math.pi * u) ** 2)
        elif kind == QUESTION:
            q = min(1.0, (t - s) / _Q_RISE_S, (e - t) / _Q_FALL_S)
            a[j] = max(a[j], 0.5 - 0.5 * math.cos(math.pi * q))
        else:
            a[j] = max(a[j], amount * min(1.0, (t - s) / 0.15, (e - t) / 0.3))
    return out


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
    if st.active_cues or t >= st.next_cue_s:
        vocal, nod, laugh, question = _cue_signals(st, t)
        if vocal is not None:
            np.maximum(energy, vocal, out=energy)
    else:
        vocal = nod = laugh = question = None
    if ve is not None:
        energy = np.where(have, np.clip(np.nan_to_num(ve), 0.0, 1.0), energy)
    speaking = (t >= st.turn_start) & (t < st.turn_end)
    if np.count_nonzero(speaking):
        floor = int(np.argmax(np.where(speaking, st.turn_start, -np.inf)))
    else:
        floor = -1
    changed = floor != st.last_speaker
    st.last_speaker = floor
    return ConversationFrame(speaking, energy, beat, floor, changed, vocal, nod, question, laugh)

"""Side conversations: pairs of heads leaning in (Hall's intimate distance) become whisper pairs.

Head distances are low-passed (tau 0.15 s) against tracking noise; a pair enters when their heads
come within ``enter_m`` (0.45 m, Hall 1966) and leaves beyond ``exit_m`` (0.55 m); after any change
the pair keeps its state for at least ``min_dwell_s`` (0.8 s). The
hysteresis band and the dwell together mean noisy distances cannot make a pair flap. Outputs the
active pairs (for the audio engine's whisper mode) and a smooth per-person cue 0..1 (for a subtle
visual sign). Pure, vectorised over the N×N distance matrix; time in seconds passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class WhisperConfig:
    enter_m: float = 0.45      # heads closer than this start whispering
    exit_m: float = 0.55       # ... and stop beyond this
    min_dwell_s: float = 0.8   # no state change sooner than this after the last one
    smooth_tau_s: float = 0.15  # low-pass on distances against tracking noise
    cue_tau_s: float = 0.2     # visual cue fade time constant


@dataclass
class WhisperState:
    active: np.ndarray        # (N, N) bool, symmetric, False on the diagonal
    changed_at: np.ndarray    # (N, N) seconds of the last change
    cue: np.ndarray           # (N,) 0..1
    cfg: WhisperConfig
    dist: np.ndarray | None = None  # (N, N) smoothed head distances, m
    last_t: float = math.nan


def new_whisper(n: int, cfg: WhisperConfig | None = None) -> WhisperState:
    return WhisperState(np.zeros((n, n), bool), np.full((n, n), -1e9), np.zeros(n), cfg or WhisperConfig())


def whisper_step(ws: WhisperState, head_pos: np.ndarray, t: float):
    """Advance to ``t`` (s) with head positions (N, 3) m. -> (pairs (P, 2) int, i < j; cue (N,))."""
    cfg = ws.cfg
    d = head_pos[:, None, :] - head_pos[None, :, :]
    d *= d
    dist = np.sqrt(d[..., 0] + d[..., 1] + d[..., 2])
    dt = 0.0 if math.isnan(ws.last_t) else max(t - ws.last_t, 0.0)
    ws.last_t = t
    if ws.dist is None or ws.dist.shape != dist.shape:
        ws.dist = dist
    else:
        ws.dist += (dist - ws.dist) * (1.0 - math.exp(-dt / cfg.smooth_tau_s))
    k = 1.0 - math.exp(-dt / cfg.cue_tau_s) if dt > 0 else 1.0
    n = dist.shape[0]
    # Usually nobody whispers and no two heads are close: then nothing can flip.
    if not ws.active.any() and not (ws.dist + _diagonal(n) < cfg.enter_m).any():
        ws.cue -= ws.cue * k
        return np.zeros((0, 2), int), ws.cue
    can = (t - ws.changed_at) >= cfg.min_dwell_s
    enter = (ws.dist < cfg.enter_m) & ~ws.active & can
    leave = (ws.dist > cfg.exit_m) & ws.active & can
    np.fill_diagonal(enter, False)
    flip = enter | leave
    if flip.any():
        ws.active ^= flip
        ws.changed_at[flip] = t
    on = ws.active.any(axis=1)
    ws.cue += (on - ws.cue) * k
    if on.any():
        i, j = np.nonzero(np.triu(ws.active, 1))
        pairs = np.stack([i, j], axis=1)
    else:
        pairs = np.zeros((0, 2), int)
    return pairs, ws.cue


_DIAGONALS: dict = {}


def _diagonal(n: int) -> np.ndarray:
    """(N, N) with +inf on the diagonal and 0 elsewhere (masks a head's distance to itself)."""
    m = _DIAGONALS.get(n)
    if m is None:
        m = _DIAGONALS[n] = np.diag(np.full(n, np.inf))
        m.flags.writeable = False
    return m

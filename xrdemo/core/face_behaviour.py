"""Procedural face behaviour: brows on stressed syllables, a smile when someone is greeted, and the
small movements of a face at rest. A layer of expression weights added to whatever else drives the
face (``face_sources.combine_expressions`` then lays voice and trackers over it).

- Brows: a stressed syllable lifts the inner brows (outer ones 70 % as much) quickly (~30 ms) and
  lets them fall over ~250 ms. Stress comes from the conversation's beat pulse (scripted speech)
  and from onsets in any voice energy (real audio): the level rising above its own slow average.
- Greeting: when someone joins (their seat becomes present), everyone present smiles (cheeks with
  it) for ``GREET_S`` seconds, eased in and out; the newcomer smiles back.
- Questions: the conversation's question cue (0..1: over a question's last half second and the
  wait for an answer) raises the inner and outer brows by ``QUESTION_BROW`` (Ekman 1979 names the
  raised brow a question marker; Flecha-García 2010 finds brow raises more frequent in questions).
- Laughter: the laugh cue (0..1) smiles with the cheeks raised, narrowing the eyes from below (a
  Duchenne laugh) and opens the jaw in bursts at ``LAUGH_HZ`` (laugh notes ~210 ms apart, Provine 1996),
  each person at their own phase.
- At rest: slow, seeded, smooth wandering of brows, mouth corners and lids (a few per cent), so no
  face is ever perfectly still; it never jumps (sums of sines below 0.5 Hz).

Pure numpy; time is an argument; state of N people advances together.
"""

from __future__ import annotations

import math

import numpy as np

from .expressions import EXPRESSION_COUNT, INDEX

BROW_LIFT = 0.45            # inner-brow lift of a full stress pulse
BROW_ATTACK_S, BROW_RELEASE_S = 0.03, 0.25
ONSET_SLOW_S = 0.3          # the slow average an energy onset rises above
ONSET_MIN = 0.12            # energy above its slow average that counts as a stressed onset
GREET_S, GREET_SMILE = 2.0, 0.5
QUESTION_BROW = 0.55        # inner-brow lift of a full question raise (outer ones 85 % as much)
LAUGH = {"smile_left": 0.7, "smile_right": 0.7, "cheek_raise_left": 0.6, "cheek_raise_right": 0.6,
         "brow_inner_up": 0.1}
"""Weights a full laugh adds (besides the jaw bursts). The eyes narrow from below with the cheeks;
the upper lids are left to the blinks (so a laugh never reads as a half-closed blink)."""
LAUGH_HZ, LAUGH_JAW = 4.7, 0.45     # jaw bursts of laughter: rate (Hz) and depth
MICRO = {"brow_inner_up": 0.03, "brow_outer_up_left": 0.025, "brow_outer_up_right": 0.025,
         "smile_left": 0.03, "smile_right": 0.03, "lid_close_left": 0.03, "lid_close_right": 0.03}
"""Amplitude of the resting movement per expression (weights; the layer adds them, centred)."""

_MICRO_COLS = np.array([INDEX[k] for k in MICRO])
_MICRO_AMP = np.array(list(MICRO.values()))
_BROW_IN, _BROW_OUT = INDEX["brow_inner_up"], [INDEX["brow_outer_up_left"], INDEX["brow_outer_up_right"]]
_SMILE = [INDEX["smile_left"], INDEX["smile_right"]]
_CHEEK = [INDEX["cheek_raise_left"], INDEX["cheek_raise_right"]]
_LAUGH = np.zeros(EXPRESSION_COUNT)
_LAUGH[[INDEX[k] for k in LAUGH]] = list(LAUGH.values())
_QUESTION = np.zeros(EXPRESSION_COUNT)
_QUESTION[_BROW_IN] = QUESTION_BROW
_QUESTION[_BROW_OUT] = 0.85 * QUESTION_BROW
_JAW = INDEX["jaw_open"]
_LAYER = np.zeros((3 * len(MICRO) + 1, EXPRESSION_COUNT))
_LAYER[np.arange(3 * len(MICRO)), np.repeat(_MICRO_COLS, 3)] = 1.0      # three sines per expression
_LAYER[-1, _BROW_IN] = 1.0
_LAYER[-1, _BROW_OUT] = 0.7


class FaceBehaviour:
    """Per-person state of the procedural layer. n: people; seed: varies the resting movement."""

    def __init__(self, n: int, seed: int = 0):
        self.n = int(n)
        rng = np.random.default_rng([seed, n, 0xFACE])
        k = len(MICRO)
        self._freq = rng.uniform(0.07, 0.45, (self.n, k, 3))          # Hz, three sines each
        self._phase = rng.uniform(0, 2 * math.pi, (self.n, k, 3))
        self._share = rng.dirichlet(np.ones(3), (self.n, k))           # sines' shares, sum 1
        # Per frame the layer is one product: [the 3k sines times share x amplitude, brow] (N, 3k+1)
        # by a constant (3k+1, EXPRESSION_COUNT) that sums each expression's sines into its
        # column and puts the brow lift on the inner (1) and outer (0.7) brows.
        self._omega = (2 * math.pi * self._freq).reshape(self.n, 3 * k)
        self._phase_flat = self._phase.reshape(self.n, 3 * k)
        self._share_amp = (self._share * _MICRO_AMP[:, None]).reshape(self.n, 3 * k)
        self._terms = np.empty((self.n, 3 * k + 1))
        self._all = np.ones(self.n, bool)
        self._greeted = False
        self._laugh_phase = rng.uniform(0, 2 * math.pi, self.n)
        self.slow = np.zeros(self.n)
        self.brow = np.zeros(self.n)
        self.greet_t0 = np.full(self.n, -np.inf)
        self.present = None
        self.t_s = None

    def step(self, t_s: float, level: np.ndarray, beat: np.ndarray | None = None,
             present: np.ndarray | None = None, question: np.ndarray | None = None,
             laugh: np.ndarray | None = None) -> np.ndarray:
        """(N, EXPRESSION_COUNT) float32 layer to add (may be negative for the resting movement).

        t_s: seconds; level: (N,) voice energy 0..1; beat: (N,) 0..1 stressed-syllable pulse or
        None; present: (N,) bool who sits at the table (None: everyone); question, laugh: (N,) 0..1
        cues of the conversation (None: nothing to add).
        """
        level = np.asarray(level, np.float64)
        if np.count_nonzero(np.isfinite(level)) != level.size:      # (cheaper than nan_to_num every frame)
            level = np.nan_to_num(level)
        level = np.minimum(np.maximum(level, 0.0), 1.0)
        dt = 0.0 if self.t_s is None else max(t_s - self.t_s, 0.0)
        self.t_s = t_s
        if dt > 0:
            onset = np.minimum(np.maximum((level - self.slow - ONSET_MIN) / (1.0 - ONSET_MIN), 0.0), 1.0)
            self.slow += (1.0 - math.exp(-dt / ONSET_SLOW_S)) * (level - self.slow)
            pulse = onset if beat is None else np.maximum(onset, np.minimum(np.maximum(beat, 0.0), 1.0))
            goal = BROW_LIFT * pulse
            k = np.where(goal > self.brow, 1.0 - math.exp(-dt / BROW_ATTACK_S), 1.0 - math.exp(-dt / BROW_RELEASE_S))
            self.brow += k * (goal - self.brow)

        if present is None:
            here = self._all
            if self.present is not None and self.present is not here and not self.present.all():
                self.greet_t0[:] = t_s                 # someone came: everyone present greets
                self._greeted = True
        else:
            here = np.asarray(present, bool)
            if self.present is not None and (here & ~self.present).any():
                self.greet_t0[here] = t_s
                self._greeted = True
            here = here.copy()
        self.present = here

        terms = self._terms
        micro = terms[:, :-1]
        np.multiply(self._omega, t_s, out=micro)
        micro += self._phase_flat
        np.sin(micro, out=micro)
        micro *= self._share_amp
        terms[:, -1] = self.brow
        out = (terms @ _LAYER).astype(np.float32)
        if self._greeted:
            age = t_s - self.greet_t0
            greeting = (age >= 0) & (age < GREET_S)
            if greeting.any():
                greet = np.where(greeting, np.sin(np.pi * np.clip(age / GREET_S, 0, 1)) ** 2, 0.0)
                out[:, _SMILE] += (GREET_SMILE * greet)[:, None]
                out[:, _CHEEK] += (0.6 * GREET_SMILE * greet)[:, None]
        if question is not None:
            out += (question[:, None] * _QUESTION).astype(np.float32)
        if laugh is not None:
            out += (laugh[:, None] * _LAUGH).astype(np.float32)
            bursts = 0.5 - 0.5 * np.cos(2 * math.pi * LAUGH_HZ * t_s + self._laugh_phase)
            out[:, _JAW] += (LAUGH_JAW * laugh * bursts).astype(np.float32)
        if here is not self._all and not here.all():
            out[~here] = 0.0
        return out


def apply(baseline: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """baseline (N, EXPRESSION_COUNT) + layer, clipped to 0..1, float32."""
    out = np.add(np.asarray(baseline, np.float32), layer, dtype=np.float32)
    np.maximum(out, 0.0, out=out)
    return np.minimum(out, 1.0, out=out)

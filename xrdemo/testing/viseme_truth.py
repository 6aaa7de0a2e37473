"""Ground truth for lip shapes: fixed test sentences, said by espeak-ng, labelled per frame.

Twenty-four English sentences (written for this project, rich in p/b/m, f/v, ee, oo and a), split
once and for all into a tuning set and a held-out set of twelve each; each sentence has its own
espeak-ng voice, rate and pitch, and both sets use every voice. They are synthesised at test time
(``labelled``), so no audio is stored; espeak-ng's phoneme events (see ``testing/espeak.py``) give
each phoneme's start in the audio.

``PHONEME_GROUP`` maps espeak-ng's English phoneme mnemonics onto the five mouth-shape groups of
``core/expressions.VISEME_GROUPS``:

- closed: p b m (lips together);
- fv: f v (lower lip under the upper teeth);
- wide: i: i I e E eI j (lips spread, jaw nearly closed);
- round: u: U oU O: O OI w (lips rounded);
- open: a aa A: A@ a# V @ @2 @5 3: 3 aI aU e@ (jaw open, lips neutral; schwa and the r-coloured
  vowels are counted as open, their jaw is mid-open).

Every other phoneme (t d n l r s z S Z T D k g N h tS dZ, pauses) has no group of its own: those
frames are left out of the accuracy, and the report says what share of frames that is. Diphthongs
count by their first part (aI, aU: open; eI: wide; oU, OI: round). Unknown mnemonics are left out
too, and a test lists them so the table can grow deliberately.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xrdemo.core.expressions import VISEME_GROUPS

# (text, voice, words per minute, pitch 0..100)
TUNING = (
    ("Please pass me the blue book.", "en-us", 160, 50),
    ("Five brave men move a heavy van.", "en+f3", 150, 60),
    ("We need to keep the meeting brief.", "en-gb-x-rp", 165, 45),
    ("Who would choose blue shoes for the moon?", "en-us+m3", 155, 40),
    ("My father parked the car by the farm.", "en+f2", 160, 65),
    ("Bob bought a big blue ball.", "en-029", 150, 50),
    ("Very few people even believe it.", "en-us", 170, 55),
    ("Open the window and move over.", "en+f3", 160, 55),
    ("Maybe we can meet for coffee at five.", "en-gb-x-rp", 155, 50),
    ("The smooth stone fell into the pool.", "en-us+m3", 150, 35),
    ("Please put the paper by the map.", "en+f2", 165, 70),
    ("Far above the valley, the wolves howled.", "en-029", 155, 45),
)
HELD_OUT = (
    ("Bring me both of the big boxes.", "en-us", 160, 50),
    ("Five fine photos of a famous view.", "en+f3", 155, 60),
    ("She sees the sea each evening.", "en-gb-x-rp", 160, 45),
    ("Who knew you would move so soon?", "en-us+m3", 150, 40),
    ("Start the car and drive to the park.", "en+f2", 160, 65),
    ("Mum and Bob made a map of the bay.", "en-029", 155, 50),
    ("Never leave a fever untreated.", "en-us", 165, 55),
    ("Your food is cooling on the window.", "en+f3", 160, 55),
    ("Please bring a fresh mop and a pail.", "en-gb-x-rp", 155, 50),
    ("The blue moon rose above the farm.", "en-us+m3", 155, 35),
    ("Every morning we walk by the river.", "en+f2", 160, 70),
    ("Half of the apples were bruised.", "en-029", 150, 45),
)

_GROUP_OF = {
    "closed": ("p", "b", "m"),
    "fv": ("f", "v"),
    "wide": ("i:", "i", "I", "I#", "I2", "e", "E", "eI", "j", "i@", "i@3"),
    "round": ("u:", "U", "oU", "O:", "O", "OI", "w", "0", "o@", "U@", "u@", "O@"),
    "open": ("a", "aa", "A:", "A@", "a#", "V", "@", "@2", "@5", "3:", "3", "aI", "aU", "e@", "a2",
             "@L", "aI@", "aI3", "aU@"),
}
PHONEME_GROUP = {ph: VISEME_GROUPS.index(g) for g, phs in _GROUP_OF.items() for ph in phs}
"""espeak-ng mnemonic -> index into VISEME_GROUPS."""
NO_GROUP = ("t", "d", "n", "l", "r", "s", "z", "S", "Z", "T", "D", "k", "g", "N", "h", "tS", "dZ",
            "_", "_:", "_!", "_|", "", "n-", "l/2", "t#", "d#", "z#", "r-", "?", "*", "l/", "w#", "t2",
            "d2", "k2", "x", ";")
"""Mnemonics that belong to no mouth-shape group (left out of the accuracy)."""


@dataclass
class Labelled:
    """One sentence's audio (resampled) and its phoneme labels.

    audio: (S,) float32 at ``rate`` Hz; utterance: the espeak ``Utterance`` (phonemes and starts).
    """

    text: str
    audio: np.ndarray
    rate: int
    utterance: object

    def groups_at(self, times_s: np.ndarray) -> np.ndarray:
        """(F,) int: the group (index into VISEME_GROUPS) of the phoneme sounding at each time
        (F,) seconds, -1 where it has no group."""
        names = self.utterance.labels_at(times_s)
        return np.array([PHONEME_GROUP.get(n, -1) for n in names], np.int64)


def labelled(which: str, rate: int = 48000) -> list:
    """The ``which`` ("tuning" or "held_out") sentences, synthesised and resampled to ``rate``."""
    from xrdemo.audio.voices import resample
    from xrdemo.testing.espeak import synthesise

    sentences = {"tuning": TUNING, "held_out": HELD_OUT}[which]
    out = []
    for text, voice, wpm, pitch in sentences:
        u = synthesise(text, voice, wpm, pitch)
        out.append(Labelled(text, resample(u.audio, u.rate, rate), rate, u))
    return out


@dataclass
class Score:
    """How a voice -> viseme mapping did on labelled sentences.

    accuracy: share of grouped frames whose shown group (core.visemes.shown_group) is the label's;
    closed: share of p/b/m frames where the mouth reads as closed (core.visemes.mouth_closed);
    coverage: share of all frames that have a group; frames: grouped frames counted;
    confusion: (5, 5) counts, rows the label, columns the shown group.
    """

    accuracy: float
    closed: float
    coverage: float
    frames: int
    confusion: np.ndarray


def run_sentences(sentences: list, model=None, block: int = 256) -> list:
    """Per sentence: (weights (T, 5), label groups (T,)): each block's weights, run through the
    real-time analyser, labelled with the phoneme at the time they describe (block end - delay)."""
    from xrdemo.audio.visemes import VisemeAnalyser

    out = []
    for s in sentences:
        an = VisemeAnalyser(1, s.rate, block, model)
        w = an.run(s.audio)
        times = (np.arange(len(w)) + 1.0) * block / s.rate - an.delay_s
        out.append((w.copy(), s.groups_at(times)))
    return out


def score(runs: list) -> Score:
    """Score of run_sentences' output."""
    from xrdemo.core.visemes import mouth_closed, shown_group

    w = np.concatenate([r[0] for r in runs])
    g = np.concatenate([r[1] for r in runs])
    shown = shown_group(w)
    have = g >= 0
    confusion = np.zeros((5, 5), np.int64)
    np.add.at(confusion, (g[have], shown[have]), 1)
    closed = mouth_closed(w[g == 0])
    return Score(float(np.mean(shown[have] == g[have])), float(closed.mean()),
                 float(have.mean()), int(have.sum()), confusion)

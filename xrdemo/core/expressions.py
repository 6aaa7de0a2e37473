"""The fixed set of facial expression weights every person carries (as data, not as code).

One row of ``EXPRESSION_COUNT`` weights in 0..1 per person, float32, in the order of
``EXPRESSIONS``; 0 everywhere is the neutral face. Where they come from (best first): face tracking
mapped onto this set, visemes from the voice, procedural behaviour. Where they go: the renderer
(blend shapes in the vertex shader, one weight vector per instance), the pose update on the wire,
and meeting recordings. Left/right are the person's own left and right.
"""

from __future__ import annotations

import numpy as np

EXPRESSIONS: tuple[str, ...] = (
    "jaw_open",            # mouth open (the 'open' viseme: a, ah)
    "lips_closed",         # lips pressed together (p, b, m)
    "lip_funnel",          # lips rounded and forward (oo, w)
    "lip_pucker",          # lips pursed (kiss, 'u')
    "lip_stretch",         # lips spread wide (ee, i)
    "lower_lip_tuck",      # lower lip under the upper teeth (f, v)
    "smile_left",
    "smile_right",
    "frown",               # mouth corners down
    "brow_inner_up",       # worry, question
    "brow_outer_up_left",
    "brow_outer_up_right",
    "brow_down_left",      # frown, concentration
    "brow_down_right",
    "lid_close_left",      # blink / squint of the upper lid
    "lid_close_right",
    "eye_wide_left",       # upper lid raised (surprise)
    "eye_wide_right",
    "cheek_raise_left",    # Duchenne smile, squint from below
    "cheek_raise_right",
)
EXPRESSION_COUNT = len(EXPRESSIONS)
INDEX = {name: i for i, name in enumerate(EXPRESSIONS)}
"""Name -> column, e.g. ``weights[:, INDEX["jaw_open"]]``."""

VISEME_GROUPS: tuple[str, ...] = ("closed", "fv", "wide", "round", "open")
"""The five mouth-shape groups the voice drives (p/b/m, f/v, ee/i, oo/w, a)."""
VISEME_EXPRESSION = {"closed": "lips_closed", "fv": "lower_lip_tuck", "wide": "lip_stretch",
                     "round": "lip_funnel", "open": "jaw_open"}
"""The expression each viseme group shows most."""


def neutral(n: int) -> np.ndarray:
    """(n, EXPRESSION_COUNT) float32 zeros: n neutral faces."""
    return np.zeros((n, EXPRESSION_COUNT), np.float32)

"""The verified (✓) and flagged (✗) marks on name tags are drawn as strokes before the name."""

import numpy as np

from xrdemo.render.labels import rasterise_texts


def test_marks_are_drawn_before_the_name():
    atlas, rects, aspects = rasterise_texts(("✓ Ada", "Ada", "✗ Ada", "? Ada"))
    rows = np.split(atlas, 4, axis=0)
    assert aspects[0] > aspects[1] and np.isclose(aspects[0], aspects[2])
    h = rows[0].shape[0]
    mark_box = slice(h // 2, h // 2 + int(0.6 * h))       # where the mark sits (after the padding)
    assert rows[0][:, mark_box].sum() > 0.2 * 255 * h and rows[2][:, mark_box].sum() > 0.2 * 255 * h
    assert not np.array_equal(rows[0], rows[2])            # a tick is not a cross
    # after the mark, the same name as the plain tag
    plain = rows[1][:, : int(rects[1][2] * atlas.shape[1])]
    ink = lambda r: np.flatnonzero(r.sum(axis=0))
    shift = ink(rows[0])[-1] - ink(plain)[-1]
    assert shift > 0
    assert np.array_equal(rows[0][:, ink(plain)[0] + shift: ink(plain)[-1] + shift + 1],
                          plain[:, ink(plain)[0]: ink(plain)[-1] + 1])

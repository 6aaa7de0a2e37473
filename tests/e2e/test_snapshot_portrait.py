"""`xrdemo snapshot --portrait K --expression NAME=W`: a face close up, and a blend shape that moves
its pixels; bad expressions are one clear line."""

import numpy as np
from PIL import Image


def _png(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def test_portrait_shows_a_face_and_an_expression_moves_it(run_xrdemo, tmp_path):
    res = run_xrdemo("snapshot", "--people", "4", "--portrait", "1", "--time", "1.0", "--size", "240x240",
                     "--out", "a.png")
    assert res.returncode == 0, res.stderr
    res = run_xrdemo("snapshot", "--people", "4", "--portrait", "1", "--time", "1.0", "--size", "240x240",
                     "--expression", "jaw_open=1", "--expression", "brow_inner_up=1", "--out", "b.png")
    assert res.returncode == 0, res.stderr
    a, b = _png(tmp_path / "a.png"), _png(tmp_path / "b.png")
    # A face fills the middle of the picture: skin (r > g > b) at the centre.
    mid = a[100:140, 100:140].reshape(-1, 3)
    assert ((mid[:, 0] > mid[:, 1]) & (mid[:, 1] > mid[:, 2])).mean() > 0.6
    changed = np.abs(a - b).sum(axis=-1) > 40
    assert changed.sum() > 150                              # the mouth opened, the brows rose
    rows = np.flatnonzero(changed.any(axis=1))
    assert rows.min() < 110 < rows.max()                    # above (brows) and below (mouth) the middle


def test_bad_expression_or_portrait_gives_one_line(run_xrdemo):
    res = run_xrdemo("snapshot", "--portrait", "1", "--expression", "grin=1")
    assert res.returncode == 2 and "unknown expression 'grin'" in res.stderr
    assert res.stderr.strip().count("\n") == 0
    res = run_xrdemo("snapshot", "--portrait", "1", "--expression", "jaw_open=2")
    assert res.returncode == 2 and "within 0..1" in res.stderr
    res = run_xrdemo("snapshot", "--people", "3", "--portrait", "7")
    assert res.returncode == 1 and "--portrait 7 does not exist" in res.stderr
    res = run_xrdemo("snapshot", "--expression", "jaw_open=1")
    assert res.returncode == 1 and "give --portrait too" in res.stderr

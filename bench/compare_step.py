"""Check: this tree's core step against another checkout's, frame by frame, in one process.

Runs seeded meetings (16 people with a local viewer, 6 with people leaving and coming back, 9
observed, 1 alone) through both steps and asserts that every discrete outcome is the same (who
speaks, the floor, gaze targets, contact touch-downs, whisper pairs, instance counts, tag texts);
prints the largest difference of each continuous output (hand joints, heads, gaze, expression
weights, capsules, sphere and face instances, tag colours). Use it after a speed change.
Run: .venv/bin/python bench/compare_step.py --reference /work/main [--seconds 80]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from faces import load_reference            # bench/faces.py (bench/ is on the path when run)
from xrdemo.core import scene as S


def _outputs(st, fs):
    p = st.people
    return {"joints": p.joints, "head_pos": p.head_pos, "gaze": p.gaze, "expressions": p.expressions,
            "capsule a": fs.capsules.a, "capsule radius": fs.capsules.radius, "capsule colour": fs.capsules.colors,
            "spheres": fs.meshes["sphere"].transforms, "sphere colour": fs.meshes["sphere"].colors,
            "faces": fs.faces.transforms, "eyes": fs.faces.eyes, "face skin": fs.faces.skin,
            "face hair": fs.faces.hair, "face expressions": fs.faces.expressions,
            "tag colour": fs.labels.colors, "tag position": fs.labels.positions}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, required=True, help="checkout with the old step")
    ap.add_argument("--seconds", type=float, default=80.0)
    args = ap.parse_args(argv)
    R = load_reference(args.reference)
    worst: dict = {}
    for n, local, seconds in ((16, 0, args.seconds), (6, 2, args.seconds), (9, -1, args.seconds / 2), (1, 0, 10.0)):
        a, b = S.make_meeting(n, local=local, seed=n), R.make_meeting(n, local=local, seed=n)
        for i in range(int(seconds * 90)):
            if n > 4 and i in (900, 1800):
                present = None if i == 1800 else np.arange(n) % 3 != 1
                S.set_present(a, present)
                R.set_present(b, present)
            a, fa = S.step(a, None, i * 11_111_111)
            b, fb = R.step(b, None, i * 11_111_111)
            pa, pb = a.frame, b.frame
            same = (np.array_equal(pa.speaking, pb.speaking) and pa.floor == pb.floor
                    and np.array_equal(pa.gaze_target, pb.gaze_target)
                    and np.array_equal(pa.contact_down, pb.contact_down)
                    and np.array_equal(np.asarray(pa.whisper_pairs), np.asarray(pb.whisper_pairs))
                    and len(fa.capsules) == len(fb.capsules) and len(fa.faces) == len(fb.faces)
                    and fa.labels.texts == fb.labels.texts)
            if not same:
                raise SystemExit(f"{n} people: a discrete outcome differs at frame {i}")
            ref = _outputs(b, fb)
            for k, x in _outputs(a, fa).items():
                d = np.abs(np.asarray(x, float) - np.asarray(ref[k], float)).max(initial=0.0)
                worst[k] = max(worst.get(k, 0.0), float(d))
        print(f"{n:>2} people, local {local:>2}: {int(seconds * 90)} frames, every discrete outcome the same")
    print("largest differences:", ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))


if __name__ == "__main__":
    main()

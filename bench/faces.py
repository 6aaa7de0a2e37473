"""Benchmark: what faces and seated bodies cost, against the old step, in one process.

  step (this tree)   — xrdemo.core.scene.step at N people, everything on (faces: eye vergence,
                       20 expression weights, blend-shape instances; seated bodies; resting hands).
  step (reference)   — the same call from another checkout (--reference, e.g. the main branch's
                       worktree), imported under another package name, run interleaved with ours.
  faces part         — eye_gaze + face_instances + procedural_expressions + body_transforms alone.
  render             — one 640x360 view on this machine's GL (Mesa llvmpipe headless): the
                       FrameScene as drawn, and the same scene with the faces removed.
Prints milliseconds (median of repeats). Run:
  .venv/bin/python bench/faces.py --reference /work/main [--people 16] [--repeats 9]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import numpy as np

FRAME_NS = 11_111_111   # 90 Hz


def load_reference(root: Path, name: str = "xrdemo_ref"):
    """Import root/xrdemo as package ``name`` (its relative imports stay inside it)."""
    init = root / "xrdemo" / "__init__.py"
    if not init.exists():
        raise SystemExit(f"--reference {root}: no xrdemo/__init__.py there")
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(init.parent)])
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return importlib.import_module(f"{name}.core.scene")


def timed(fn, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner * 1e3


def stepper(S, n):
    state = S.make_meeting(n, seed=1)
    for i in range(90):
        state, _ = S.step(state, None, i * 33_333_333)
    frame = [270]
    box = {"state": state}

    def run():
        frame[0] += 1
        box["state"], box["scene"] = S.step(box["state"], None, frame[0] * FRAME_NS)
    return run, box


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, default=None, help="checkout with the old step")
    ap.add_argument("--people", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--no-render", action="store_true")
    args = ap.parse_args(argv)
    from xrdemo.core import scene as S
    from xrdemo.core import pose as P
    from xrdemo.core.avatars import body_transforms, eye_gaze, face_instances

    n = args.people
    ours, box = stepper(S, n)
    ref = stepper(load_reference(args.reference), n)[0] if args.reference else None
    new_ms, old_ms = [], []
    for _ in range(args.repeats):                   # interleaved, so load hits both alike
        new_ms.append(timed(ours, 200))
        if ref is not None:
            old_ms.append(timed(ref, 200))
    st = box["state"]
    ppl, der = st.people, st.derived
    R = P.quat_to_matrix(ppl.head_rot)
    R_seat = der.R_seat
    target = np.full(n, 1.2)

    def faces_part():
        eyes = eye_gaze(R, ppl.gaze, target)
        face_instances(slice(None), ppl.head_pos, R, der.skin, der.hair, eyes, ppl.expressions)
        S.procedural_expressions(st.frame, der.smile)
        body_transforms(der.hip, R_seat[:, :, 2], ppl.head_pos, R)

    part = statistics.median(timed(faces_part, 200) for _ in range(args.repeats))
    print(f"{n} people, median of {args.repeats}")
    print(f"  core step, this tree        {statistics.median(new_ms):7.3f} ms")
    if old_ms:
        print(f"  core step, {str(args.reference)[:16]:16s} {statistics.median(old_ms):7.3f} ms  "
              f"(ratio {statistics.median(new_ms) / statistics.median(old_ms):.2f})")
    print(f"  faces + bodies part         {part:7.3f} ms")
    if args.no_render:
        return
    from dataclasses import replace

    from xrdemo.core.frame import FaceInstances
    from xrdemo.core.views import eye_views
    from xrdemo.render.context import create_headless_context
    from xrdemo.render.renderer import Renderer

    scene = box["scene"]
    with create_headless_context():
        r = Renderer()
        eye = st.seat_pos[0]
        _, rot = P.look_at(eye, [0.0, st.table.height + 0.2, 0.0])
        view = eye_views(eye, rot, (640, 360))[0]
        target_ = r._target((640, 360), 4)
        from OpenGL import GL

        def draw(sc):
            def go():
                r.upload(sc)
                r.draw_view(view, target_.draw_fbo, (640, 360))
                GL.glFinish()
            return go
        bare = replace(scene, faces=FaceInstances.empty())
        with_f = statistics.median(timed(draw(scene), 10) for _ in range(5))
        without = statistics.median(timed(draw(bare), 10) for _ in range(5))
        print(f"  render 640x360 with faces   {with_f:7.2f} ms  ({r.heads.triangles} triangles a head, "
              f"{r.stats['draw_calls_per_view']} draw calls)")
        print(f"  render without faces        {without:7.2f} ms")


if __name__ == "__main__":
    main()

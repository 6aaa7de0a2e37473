#!/usr/bin/env python3
"""Render the in-headset menu as the wearer sees it (docs/menu.png): a meeting seen from seat 0,
the left palm turned to the face with the panel beside it, the right index finger about to press
Vol +, the wearer's hand raised. Headless (EGL, Mesa), 640x360 unless --size says otherwise.

    scripts/menu_snapshot.py --out docs/menu.png
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as written in the docs (`scripts/NAME.py ...`): re-run with the project's .venv Python
# when this one is not it.
_VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])

import argparse  # noqa: E402

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("docs/menu.png"))
    ap.add_argument("--size", default="640x360", metavar="WxH")
    ap.add_argument("--people", type=int, default=6)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from xrdemo.render.context import create_headless_context

    ctx = create_headless_context()
    from PIL import Image

    from xrdemo.core import hands as H
    from xrdemo.core import menu as M
    from xrdemo.core import pose as P
    from xrdemo.core import scene as S
    from xrdemo.core.views import eye_views
    from xrdemo.render.renderer import Renderer
    from xrdemo.testing.menu_hands import left_hand, right_hand

    state = S.make_meeting(args.people, local=0, seed=1)
    head = np.asarray(state.seat_pos[0], float)
    yaw = float(state.seat_yaw[0])
    body = P.quat_from_yaw_pitch_roll(yaw)
    palm = head + P.quat_rotate(body, np.array([-0.13, -0.24, -0.30]))
    left = left_hand(palm, head)
    menu = M.MenuState()
    zeros = dict(aim_pos=np.zeros((2, 3)), aim_rot=np.tile(P.IDENTITY_QUAT, (2, 1)),
                 aim_valid=np.zeros(2, bool), trigger=np.zeros(2), menu_button=np.zeros(2, bool))
    toggles = {M.MenuAction.RAISE_HAND: True}
    rest = head + P.quat_rotate(body, np.array([0.25, -0.45, -0.3]))
    right = right_hand(rest)
    t = 3 * 10**9
    for i in range(60):                                   # hold the palm up: the menu opens
        t += 10**9 // 72
        joints = np.stack([left, right])
        if menu.is_open:
            b = M.BUTTON_ACTIONS.index(M.MenuAction.VOLUME_UP)
            c, n = M.button_centres_room(menu)[b], M.panel_normal(menu)
            from_side = menu.panel_R @ np.array([-0.6, 0.5, 0.0])
            right = right_hand(c + n * 0.012, P.normalize(-n + from_side))   # about to press
            joints = np.stack([left, right])
        menu, _, _, panel = M.menu_step(menu, t_ns=t, head_pos=head, head_rot=body, joints=joints,
                                        joints_valid=np.ones((2, 26), bool), toggles=toggles,
                                        volume=0.8, **zeros)
    local = S.LocalInput(head_pos=head, head_rot=body, joints=joints, valid=np.ones((2, 26), bool),
                         radii=np.broadcast_to(H.TYPICAL_RADII, (2, 26)).copy())
    state, scene = S.step(state, local, t)
    look_at = menu.panel_pos + np.array([0.0, 0.12, 0.0])
    _, rot = P.look_at(head, look_at)
    renderer = Renderer()
    renderer.upload_panel(panel)
    img = renderer.render_to_arrays(scene, eye_views(head, rot, (w, h)), (w, h))[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img[..., :3]).save(args.out)
    print(f"wrote {args.out} ({renderer.stats['draw_calls_per_view']} draw calls)")
    ctx.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())

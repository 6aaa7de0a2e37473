"""Holding Space to whisper in the desktop window turns you to your partner's face (who leans in
to meet you), not to their empty chair."""

import numpy as np

from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.platform.desktop_input import DesktopControls, seat_of


def test_whisper_lean_centres_the_partners_face():
    st = S.make_meeting(6, local=0, seed=1)
    ctl = DesktopControls(seat_of(st))
    ctl.key("space", True)
    t = 0
    for i in range(120):                               # 2 s at 60 Hz, Space held
        ctl.advance(1 / 60)
        pos, rot = ctl.head_pose()
        st, _ = S.step(st, S.LocalInput(head_pos=pos, head_rot=rot), t)
        t += 16_666_667
    partner = st.partner
    assert partner >= 1
    face = st.people.head_pos[partner]
    to_face = P.normalize(face - pos)
    forward = P.quat_rotate(rot, np.array([0.0, 0.0, -1.0]))
    off = np.degrees(np.arccos(np.clip(forward @ to_face, -1, 1)))
    assert off < 8.0, off                                # was ~25° (40 % of the turn, pitched down)
    # and their face is close to you, not back at their seat
    assert np.linalg.norm(face - st.seat_pos[partner]) > 0.1

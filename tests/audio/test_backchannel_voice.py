"""A listener's backchannel ("mm-hm") is heard: the scripted voices render it as a short burst
from that listener's mouth, without the listener taking the floor (core/conversation.py cues;
scene.speaking_now feeds audio/meeting.py's MeetingVoices, as the live run and recordings do)."""

import numpy as np

from xrdemo.audio.meeting import MeetingVoices
from xrdemo.core import scene as S

RATE, FPS = 48000, 60


def test_backchannel_bursts_are_rendered_as_short_sounds_from_the_listener():
    n = 6
    st = S.make_meeting(n, local=-1, seed=11)
    voices = MeetingVoices(n, RATE, RATE // FPS, seed=11)
    bc_rms, quiet_rms, bc_frames = [], [], 0
    for k in range(FPS * 90):
        st, _ = S.step(st, None, int(round(k * 1e9 / FPS)))
        f = st.frame
        heard = S.speaking_now(st)
        fading = voices.gain > 0                             # still ramping down from before
        mono, _ = voices.next_block(heard)
        rms = np.sqrt((mono.astype(np.float64) ** 2).mean(axis=1))
        bc = np.zeros(n, bool) if f.backchannel is None else (f.backchannel > 0.2) & ~f.speaking
        bc_frames += int(bc.sum())
        bc_rms += rms[bc].tolist()
        silent = ~heard & ~fading
        quiet_rms += rms[silent].tolist()
        assert not (bc & (np.arange(n) == f.floor)).any()   # a backchannel never holds the floor
    assert bc_frames > 30                                    # several "mm-hm"s in 90 s
    assert np.median(bc_rms) > 1e-3                          # ... and each is heard
    assert max(quiet_rms) == 0.0                             # the others stay silent

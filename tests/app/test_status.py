"""The status line says the truth (xrdemo/status.py): people present, not seats; the microphone's
mute state before any meter; the room's name."""

from types import SimpleNamespace

import numpy as np

from xrdemo.audio.mic_gate import MicGate
from xrdemo.core import scene as S
from xrdemo.status import people_present, status_line

AUDIO = SimpleNamespace(device="jack")
MIC = SimpleNamespace(level_db=-30.0)
FRAME = np.zeros(480, np.float32)


def test_people_count_is_the_people_present_not_the_capacity():
    state = S.make_meeting(8, local=0)
    assert people_present(state) == 8
    present = np.zeros(8, bool)
    present[[0, 3]] = True
    S.set_present(state, present)
    line = status_line(60.0, state, AUDIO, -1, MIC, room="team")
    assert "| 2 people |" in line and "room team" in line and "8 people" not in line
    present[3] = False
    S.set_present(state, present)
    assert "| 1 person |" in status_line(60.0, state, AUDIO, -1, MIC)


def test_microphone_part_follows_the_gate():
    state = S.make_meeting(2, local=0)
    gate = MicGate()
    assert "mic: [" in status_line(60.0, state, AUDIO, -1, MIC, gate)           # open: a meter
    gate.toggle_mute()
    assert "mic: muted |" in status_line(60.0, state, AUDIO, -1, MIC, gate)
    for _ in range(30):
        gate.admit(FRAME, True)                                                 # talking while muted
    assert "mic: YOU ARE MUTED |" in status_line(60.0, state, AUDIO, -1, MIC, gate)
    ptt = MicGate(push_to_talk=True)
    assert "mic: push to talk |" in status_line(60.0, state, AUDIO, -1, MIC, ptt)
    assert "mic: none |" in status_line(60.0, state, None, -1, None)
    assert "audio: none" in status_line(60.0, state, None, -1, None)


def test_whisper_names_the_partner():
    state = S.make_meeting(3, local=0, names=("Ada", "Grace", "Alan"))
    assert status_line(30.0, state, AUDIO, 2, MIC).endswith("whisper: Alan")
    assert status_line(30.0, state, AUDIO, -1, MIC).endswith("whisper: off")

"""Mute and push-to-talk (audio/mic_gate.py): a closed gate hands nothing to the sender, and a person
talking into a closed microphone is told so."""

from __future__ import annotations

import numpy as np
import pytest

from xrdemo.audio.mic_gate import MicGate
from xrdemo.config import Config, ConfigError, config_from_dict

FRAME = np.full(480, 0.25, np.float32)


def run(gate, frames, speech):
    return [gate.admit(FRAME, speech) for _ in range(frames)]


def test_open_by_default_and_frames_pass_unchanged_after_the_first():
    gate = MicGate()
    out = run(gate, 5, True)
    assert gate.open and all(f is not None for f in out)
    assert out[0][0] < 0.25 / 100 and out[0][-1] == pytest.approx(0.25)    # faded in
    assert out[1] is FRAME                                                  # then passed as is
    assert FRAME[0] == 0.25                                                 # the caller's frame untouched


def test_muted_frames_never_reach_the_sender_and_unmuting_resumes():
    gate = MicGate()
    gate.toggle_mute()
    assert run(gate, 50, False) == [None] * 50
    assert gate.frames_withheld == 50 and gate.frames_sent == 0
    gate.toggle_mute()
    out = run(gate, 3, False)
    assert all(f is not None for f in out) and out[0][0] < out[1][0]   # fade in again after the gap


def test_start_muted():
    gate = MicGate(start_muted=True)
    assert not gate.open and gate.admit(FRAME, True) is None


def test_push_to_talk_sends_only_while_the_key_is_held_and_mute_wins():
    gate = MicGate(push_to_talk=True)
    assert gate.admit(FRAME, True) is None and gate.status_text() == "push to talk"
    gate.set_talk_key(True)
    assert gate.admit(FRAME, True) is not None and gate.status_text() == "talking"
    gate.set_muted(True)
    assert gate.admit(FRAME, True) is None
    gate.set_muted(False)
    gate.set_talk_key(False)
    assert gate.admit(FRAME, True) is None


def test_speaking_while_muted_needs_300_ms_of_speech_and_holds_two_seconds():
    gate = MicGate(start_muted=True)
    run(gate, 29, True)
    assert not gate.speaking_while_muted
    run(gate, 1, True)
    assert gate.speaking_while_muted and gate.status_text() == "you are muted"
    run(gate, 200, False)      # 2 s of silence
    assert gate.speaking_while_muted
    run(gate, 1, False)
    # the last speech left the 1 s window long ago: the warning ends
    assert not gate.speaking_while_muted and gate.status_text() == "muted"


def test_no_warning_from_scattered_speech_or_while_open():
    gate = MicGate(start_muted=True)
    for _ in range(20):            # 10 % voice activity (a cough, the fan fooling the detector)
        run(gate, 1, True)
        run(gate, 9, False)
    assert not gate.speaking_while_muted
    gate.set_muted(False)
    run(gate, 100, True)
    assert not gate.speaking_while_muted and gate.status_text() == "mic on"


def test_unmuting_clears_the_warning():
    gate = MicGate(start_muted=True)
    run(gate, 40, True)
    assert gate.speaking_while_muted
    gate.toggle_mute()
    gate.admit(FRAME, True)
    assert not gate.speaking_while_muted


def test_config_keys():
    assert Config().audio.start_muted is False and Config().audio.push_to_talk is False
    cfg = config_from_dict({"audio": {"start_muted": True, "push_to_talk": True}})
    assert cfg.audio.start_muted and cfg.audio.push_to_talk
    with pytest.raises(ConfigError, match=r"\[audio\].start_muted must be true or false"):
        config_from_dict({"audio": {"start_muted": "yes"}})

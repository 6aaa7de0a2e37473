"""Muted means the microphone's audio never leaves the machine: with the gate closed the sender
thread encodes and sends nothing (the other participant receives no voice frame), and unmuting
brings the voice back — through a real server, Opus and the real sender thread."""

import time

import numpy as np

from xrdemo.audio.io import MicInput
from xrdemo.audio.mic_chain import MicChain
from xrdemo.audio.mic_gate import MicGate
from xrdemo.audio.voices import load_voices
from xrdemo.loop.live_audio import LevelVad, MicSender
from xrdemo.net.server import ServerThread
from xrdemo.net.session import NetMeeting

RATE = 48000


def speak(mic, clip, seconds, at):
    """Feed seconds of the clip into the capture ring in 10 ms pieces, in real time."""
    n = RATE // 100
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        mic.capture(clip[at:at + n].astype(np.float32))
        at = (at + n) % (len(clip) - n)
        time.sleep(0.01)
    return at


def test_muted_audio_never_leaves_and_unmuting_brings_the_voice_back():
    srv = ServerThread(port=0, capacity=4).start()
    got = []
    ada = NetMeeting(f"127.0.0.1:{srv.port}/m", "Ada", log=lambda *_: None)
    bob = NetMeeting(f"127.0.0.1:{srv.port}/m", "Bob", log=lambda *_: None,
                     voice_sink=lambda seat, seq, t_ms, payload, arrival: got.append(seq))
    sender = None
    try:
        ada.connect()
        bob.connect()
        mic = MicInput(RATE, 256, stream=False)
        gate = MicGate()
        chain = MicChain(LevelVad(), gate, sender=ada._voice)
        sender = MicSender(mic, chain, ada.client.send_voice)
        clip = 0.3 * load_voices(RATE)[0] / max(1e-6, np.abs(load_voices(RATE)[0]).max())
        at = speak(mic, clip, 1.0, 0)
        time.sleep(0.3)
        assert len(got) > 10, "no voice reached the other participant"
        gate.set_muted(True)
        time.sleep(0.1)                     # what was already on its way arrives
        sent_before = ada.client.stats.get("voice_sent", None)
        heard_before = len(got)
        packets_before = sender.packets
        at = speak(mic, clip, 1.0, at)
        time.sleep(0.3)
        assert sender.packets == packets_before, "muted audio was encoded"
        assert len(got) == heard_before, "muted audio reached the other participant"
        if sent_before is not None:
            assert ada.client.stats.get("voice_sent") == sent_before
        gate.set_muted(False)
        speak(mic, clip, 1.0, at)
        time.sleep(0.3)
        assert len(got) > heard_before + 10, "unmuting did not bring the voice back"
    finally:
        if sender is not None:
            sender.close()
        ada.close()
        bob.close()
        srv.stop()

"""Whisper rule, pose handoff, voice activity and the audio-demo command."""

import threading
import wave

import numpy as np

from tests.audio.conftest import render
from xrdemo.audio.engine import SpatialAudioEngine, whisper_gains
from xrdemo.audio.handoff import PoseHandoff
from xrdemo.audio.voices import VoiceActivity
from xrdemo.core.pose import look_at

RNG = np.random.default_rng(7)
NOISE = RNG.standard_normal(256 * 24).astype(np.float32) * 0.1


def heard_level(hrtf, speaker, listener, whisper_gain):
    engine = SpatialAudioEngine(48000, 256, hrtf=hrtf, limiter=False)
    engine.set_sources([speaker])
    engine.set_whisper_gains([whisper_gain])
    engine.set_listener(*look_at(np.asarray(listener, float), np.array([0.0, 1.2, 0.0])))
    y = render(engine, NOISE)[512:].astype(np.float64)
    return 10 * np.log10(np.mean(y ** 2))


def test_whisper_neighbour_hears_10db_more_than_across_table(hrtf):
    angles = np.radians([0, 60, 120, 180, 240, 300])
    seats = np.stack([1.1 * np.sin(angles), np.full(6, 1.2), 1.1 * np.cos(angles)], axis=1)
    heads = seats.copy()
    heads[0] += 0.7 * (seats[1] - seats[0])  # speaker 0 leans toward neighbour 1: within 0.45 m
    assert np.linalg.norm(heads[0] - heads[1]) < 0.45
    g = whisper_gains(heads)
    neighbour = heard_level(hrtf, heads[0], heads[1], g[0, 1])
    across = heard_level(hrtf, heads[0], heads[3], g[0, 3])
    assert neighbour - across >= 10.0
    # Without leaning there is no whisper, and the table is not that unequal: the rule does the work.
    g_upright = whisper_gains(seats)
    assert np.all(g_upright[~np.eye(6, dtype=bool)] == 1.0)
    upright_gap = heard_level(hrtf, seats[0], seats[1], 1.0) - heard_level(hrtf, seats[0], seats[3], 1.0)
    assert upright_gap < 10.0


def test_pose_handoff_is_consistent_under_concurrent_writes():
    handoff = PoseHandoff((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0))   # all fields equal from the start
    stop = threading.Event()

    def writer():
        k = 0
        while not stop.is_set():
            k += 1
            handoff.publish([k, k, k], [k, k, k, k])  # every field equal: a torn read would show

    thread = threading.Thread(target=writer)
    thread.start()
    pose = np.zeros(7)
    seen = []
    try:
        for _ in range(20000):
            if handoff.read(pose) == 0:          # nothing copied (or nothing published yet)
                continue
            assert np.all(pose == pose[0])
            seen.append(pose[0])
    finally:
        stop.set()
        thread.join()
    assert len(seen) > 100 and np.all(np.diff(seen) >= 0) and seen[-1] > seen[0]


def test_voice_activity_follows_speech_with_hysteresis():
    va = VoiceActivity(2, 256 / 48000)
    loud = RNG.standard_normal((2, 256)).astype(np.float32) * 0.1
    quiet = np.zeros((2, 256), np.float32)
    loud[1] = 0.0
    for _ in range(10):
        level, speaking = va.update(loud)
    assert speaking[0] and not speaking[1] and level[0] > 0.5 and level[1] == 0.0
    _, speaking = va.update(quiet)
    assert speaking[0]  # the release holds it over a short pause
    for _ in range(100):
        _, speaking = va.update(quiet)
    assert not speaking[0]


def test_audio_demo_writes_a_binaural_wav(tmp_path):
    from xrdemo.cli import main

    out = tmp_path / "demo.wav"
    assert main(["audio-demo", "--out", str(out), "--seconds", "3"]) == 0
    with wave.open(str(out)) as w:
        assert w.getnchannels() == 2 and w.getframerate() == 48000
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, 2).astype(np.float64) / 32768
    assert x.shape[0] >= 3 * 48000 - 256
    assert np.max(np.abs(x)) < 0.99
    assert np.sqrt(np.mean(x ** 2)) > 0.01
    assert np.mean((x[:, 0] - x[:, 1]) ** 2) > 0.01 * np.mean(x ** 2)  # really binaural

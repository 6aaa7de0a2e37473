"""The sender's microphone chain (audio/mic_chain.py) with the real parts: WebRTC processing,
the mute gate, libopus, and the jitter buffer on the receiving side."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("livekit.rtc")
pytest.importorskip("webrtcvad")

from xrdemo.audio.mic_chain import MicChain, Speaking  # noqa: E402
from xrdemo.audio.mic_gate import MicGate  # noqa: E402
from xrdemo.audio.mic_processing import MicProcessor  # noqa: E402
from xrdemo.net.voice import VoiceReceiver, VoiceSender  # noqa: E402
from xrdemo.testing import echo_path as E  # noqa: E402

SR, B = 48000, 256


def talk(seconds, mute=None, far=None, mic=None):
    """Push ``mic`` (default: a talker, -22 dBFS) through a chain block by block, muted inside
    ``mute`` (start_s, stop_s); the packets go to a receiver 5 ms away. ``far``, what this machine
    plays, is handed over 3 blocks before it plays (the output renders ahead). Returns (chain, mic,
    received audio (T,), packets, speaking flags per block, muted warnings per block)."""
    if mic is None:
        mic = E.scale_to(E.near_talker(seconds, start_s=0.5, gap_s=0.3), -22.0)
    gate = MicGate()
    processor = MicProcessor(delay_ms=16)
    chain = MicChain(processor, gate, VoiceSender())
    rx = VoiceReceiver()
    out = np.zeros(seconds * SR, np.float32)
    packets, speaking, warned = [], [], []
    for k in range(seconds * SR // B):
        t_ms = k * B * 1000 // SR
        if mute is not None:
            gate.set_muted(mute[0] <= k * B / SR < mute[1])
        if far is not None and (k + 3) * B < far.shape[0]:
            processor.far_end(far[(k + 3) * B:(k + 4) * B] if k else far[:4 * B])
        for seq, ts, payload in chain.push(mic[k * B:(k + 1) * B], t_ms):
            packets.append((seq, ts, k * B / SR))
            rx.push(seq, ts, payload, int((t_ms + 5) * 1e6))
        out[k * B:(k + 1) * B] = rx.pull(B, int(t_ms * 1e6))
        speaking.append(chain.speaking)
        warned.append(gate.speaking_while_muted)
    return chain, mic, out, packets, np.array(speaking), np.array(warned)


def test_muted_audio_is_never_encoded_and_the_stream_resumes_at_once():
    chain, mic, out, packets, _, warned = talk(12, mute=(3.0, 8.0))
    sent_at = np.array([p[2] for p in packets])
    assert not np.any((sent_at > 3.03) & (sent_at < 8.0))          # nothing left while muted
    assert chain.sender.frames == len(packets)                      # and nothing was encoded
    assert len(packets) == pytest.approx((12 - 5) * 50, abs=3)
    seqs = np.array([p[0] for p in packets])
    gap = np.flatnonzero(np.diff(seqs) != 1)
    assert len(gap) == 1 and np.diff(seqs)[gap[0]] == pytest.approx(5 * 50 + 1, abs=2)   # in step with time
    during = out[int(3.2 * SR):int(8.0 * SR)]
    assert np.max(np.abs(during)) < 1e-3                            # the others hear nothing
    after, said = out[int(8.1 * SR):int(9.5 * SR)], mic[int(8.1 * SR):int(9.5 * SR)]
    assert abs(E.rms_db(after) - E.rms_db(said)) < 3.0              # and everything again at once
    assert warned[int(4.0 * SR / B):int(8.0 * SR / B)].any()       # "you are muted": they talked
    assert not warned[:int(3.0 * SR / B)].any()


def test_speaking_comes_from_voice_activity_not_from_the_echo_of_the_others():
    """Only the far end talks (loud in the microphone through the room): the chain does not call
    that speaking, though the raw level would; the local talker is."""
    seconds = 8
    far = E.played_mix(seconds)
    echo = E.scale_to(E.echo_at_mic(far, E.room_response(60)), -24.0)
    _, _, _, _, speaking, _ = talk(seconds, far=far, mic=echo)
    from xrdemo.app import mic_to_level

    assert mic_to_level(E.rms_db(echo[2 * SR:])) > 0.5             # raw level: "speaking"
    assert speaking[int(2 * SR / B):].mean() < 0.10
    near = E.scale_to(E.near_talker(seconds, start_s=0.5, gap_s=0.3), -22.0)
    echo = E.scale_to(echo, -28.0)                                  # near end 6 dB above, as in test_aec
    _, _, _, _, speaking, _ = talk(seconds, far=far, mic=(echo + near).astype(np.float32))
    talking = np.array([E.rms_db(near[k * B:(k + 1) * B]) > -35 for k in range(speaking.size)])
    share = speaking[int(2 * SR / B):][talking[int(2 * SR / B):]].mean()
    # measured: 0.97 with no echo, 0.75 here (the canceller's suppressor ducks some double talk)
    assert share > 0.7, f"speaking in {share:.2f} of the blocks where the near end talks over the echo"


def test_speaking_needs_an_onset_and_releases_after_300_ms():
    s = Speaking()
    assert not s.update(True) and not s.update(False) and not s.update(True)   # 2 of the last 5
    assert s.update(True)                                                       # 3 of the last 5
    for _ in range(29):
        assert s.update(False)
    assert not s.update(False)

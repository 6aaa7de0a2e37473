"""The microphone chain (audio/mic_processing.py) on a simulated acoustic echo path.

The far end is the project's own binaural mix (three people at the table, MeetingVoices through
SpatialAudioEngine) played into a synthetic room (direct path after 30-120 ms, 0.3 s diffuse tail)
and captured with a near-end talker (a shipped speech clip) and fan noise at known levels. The
processor is driven in the live order (render-ahead far end, 256-sample captures, a sender that
wakes every 20 ms): ``echo_path.run_live_order``. Levels: echo -28 dBFS, near speech -22 dBFS,
fan -50 dBFS (RMS over the active parts).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("livekit.rtc")
pytest.importorskip("webrtcvad")

from xrdemo.audio.mic_processing import FRAME, FarEndRing, FrameChunker, MicProcessor  # noqa: E402
from xrdemo.testing import echo_path as E  # noqa: E402

SECONDS = 12
ECHO_DB, NEAR_DB, FAN_DB = -28.0, -22.0, -50.0
DELAY_HINT_MS = 16     # what the live loop knows: 3 render-ahead blocks of 256 samples


def frames(x: np.ndarray) -> np.ndarray:
    n = x.size // FRAME
    return x[:n * FRAME].reshape(n, FRAME).astype(np.float64)


def energy_ratio_db(a: np.ndarray, b: np.ndarray) -> float:
    """10 log10(sum a^2 / sum b^2)."""
    return 10.0 * np.log10(np.sum(a ** 2) / max(np.sum(b ** 2), 1e-30))


@pytest.fixture(scope="module")
def far():
    return E.played_mix(SECONDS)


@pytest.fixture(scope="module")
def fan():
    return (E.fan_noise(SECONDS, seed=1) * E.db_to_gain(FAN_DB)).astype(np.float32)


@pytest.fixture(scope="module")
def near():
    """The near-end talker from 4 s on."""
    return E.scale_to(E.near_talker(SECONDS, start_s=4.0), NEAR_DB)


def echo_for(far, delay_ms):
    return E.scale_to(E.echo_at_mic(far, E.room_response(delay_ms)), ECHO_DB)


def erle_after(echo, out, start_s, stop_s=None):
    """ERLE (dB) over the 10 ms frames between start_s and stop_s where the echo is active."""
    n = out.size // FRAME
    mask = E.active_mask(echo)[:n]
    mask[:int(start_s * 100)] = False
    if stop_s is not None:
        mask[int(stop_s * 100):] = False
    return energy_ratio_db(frames(echo)[:n][mask], frames(out)[mask])


# --- echo ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("delay_ms", [30, 60, 120])
def test_echo_return_loss_enhancement_after_two_seconds_of_single_talk(far, delay_ms):
    echo = echo_for(far, delay_ms)
    mic_noise = (E.fan_noise(SECONDS, seed=2) * E.db_to_gain(-70.0)).astype(np.float32)
    out, vad = E.run_live_order(MicProcessor(delay_ms=DELAY_HINT_MS), far[:6 * 48000], (echo + mic_noise)[:6 * 48000])
    erle = erle_after(echo, out, 2.0)
    assert erle >= 20.0, f"ERLE {erle:.1f} dB over 2-6 s at {delay_ms} ms"
    # the far end's voices are not the local person speaking
    assert vad[200:].mean() <= 0.10


def test_without_the_canceller_the_same_measure_finds_no_echo_removed(far):
    echo = echo_for(far, 60)
    out, _ = E.run_live_order(MicProcessor(delay_ms=DELAY_HINT_MS, echo_cancellation=False),
                              far[:6 * 48000], echo[:6 * 48000])
    assert erle_after(echo, out, 2.0) < 5.0


def test_double_talk_keeps_the_near_end_speech(far, near, fan):
    """Far end talking throughout, near end joining at 4 s: the near-end speech that leaves is
    compared with what the same chain sends for the same speech and noise without any echo."""
    echo = echo_for(far, 60)
    out_dt, vad_dt = E.run_live_order(MicProcessor(delay_ms=DELAY_HINT_MS), far, echo + near + fan)
    out_ref, vad_ref = E.run_live_order(MicProcessor(delay_ms=DELAY_HINT_MS), np.zeros_like(far), near + fan)
    n = out_dt.size // FRAME
    speech = E.active_mask(near)[:n]
    speech[:400] = False
    a, b = frames(out_dt)[speech], frames(out_ref)[speech]
    kept_db = energy_ratio_db(a, b)
    correlation = float(np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b)))
    assert kept_db >= -6.0, f"near-end speech lost {-kept_db:.1f} dB in double talk"
    assert correlation >= 0.6, f"near-end speech correlation {correlation:.2f} in double talk"
    assert vad_dt[speech].mean() >= 0.75


# --- noise and voice activity -------------------------------------------------------------------

def test_noise_in_speech_pauses_is_down_10_db():
    """A near-end talker with 1.5 s pauses over fan noise (no far end): the noise in the pauses
    (frames at least 200 ms from any speech, after 3 s) goes down >= 10 dB, the speech stays within
    3 dB, and voice activity finds the speech and not the fan."""
    seconds = 16
    near = E.scale_to(E.near_talker(seconds, start_s=1.0, gap_s=1.5), NEAR_DB)
    fan = (E.fan_noise(seconds, seed=1) * E.db_to_gain(FAN_DB)).astype(np.float32)
    out, vad = E.run_live_order(MicProcessor(delay_ms=DELAY_HINT_MS), np.zeros((near.size, 2), np.float32),
                                near + fan)
    n = out.size // FRAME
    speech = E.active_mask(near)[:n]
    near_any = E.active_mask(near, floor_db=-60.0)[:n]
    pause = ~(np.convolve(near_any.astype(float), np.ones(41), mode="same") > 0)
    pause[:300] = False
    speech[:300] = False
    assert pause.sum() > 400 and speech.sum() > 400
    down = energy_ratio_db(frames(fan)[:n][pause], frames(out)[pause])
    assert down >= 10.0, f"noise in pauses down {down:.1f} dB"
    speech_gain = energy_ratio_db(frames(out)[speech], frames(near)[:n][speech])
    assert abs(speech_gain) <= 3.0, f"speech level changed {speech_gain:.1f} dB"
    assert vad[pause].mean() <= 0.05
    assert vad[speech].mean() >= 0.9


# --- plumbing -----------------------------------------------------------------------------------

def test_far_end_ring_wraps_and_skips_ahead_when_the_reader_falls_behind():
    ring = FarEndRing(capacity=1200, channels=2)      # a reader may lag up to 1200 - 480 samples
    x = np.arange(2 * 1540, dtype=np.float32).reshape(1540, 2)
    out = np.zeros((480, 2), np.float32)
    ring.write(x[:700])
    assert ring.available() == 700
    ring.read(out)
    np.testing.assert_array_equal(out, x[:480])
    ring.write(x[700:1300])            # wraps round the end; the reader is now 820 behind
    assert ring.available() == 720 and ring.overruns == 100
    ring.read(out)
    np.testing.assert_array_equal(out, x[580:1060])
    ring.write(x[1300:1540])
    assert ring.available() == 480
    ring.read(out)                     # a read across the end of the buffer
    np.testing.assert_array_equal(out, x[1060:1540])
    assert ring.available() == 0


def test_far_end_ring_over_shared_memory_is_seen_by_a_second_view():
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=FarEndRing.nbytes(4800, 2))
    try:
        writer = FarEndRing(4800, 2, buffer=shm.buf)
        reader = FarEndRing(4800, 2, buffer=shm.buf)
        block = np.random.default_rng(0).standard_normal((960, 2)).astype(np.float32)
        writer.write(block)
        out = np.zeros((480, 2), np.float32)
        assert reader.available() == 960
        reader.read(out)
        np.testing.assert_array_equal(out, block[:480])
        del writer, reader, out
    finally:
        shm.close()
        shm.unlink()


def test_process_refuses_frames_that_are_not_10_ms():
    with pytest.raises(ValueError, match="480 samples"):
        MicProcessor().process(np.zeros(256, np.float32))


def test_frame_chunker_turns_256_sample_blocks_into_10_ms_frames():
    chunker = FrameChunker()
    x = np.arange(256 * 15, dtype=np.float32)
    got = [f for k in range(15) for f in chunker.push(x[k * 256:(k + 1) * 256])]
    assert len(got) == 256 * 15 // FRAME
    np.testing.assert_array_equal(np.concatenate(got), x[:len(got) * FRAME])

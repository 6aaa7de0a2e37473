import numpy as np

from xrdemo.core.lips import VoiceEnvelope, audio_presentation_time_ns, jaw_from_energy, sample_envelope


def envelope(t0_ns=1_000_000_000, rate=200.0, k=40):
    # Person 0: energy ramps with time (value = sample index / k); person 1: constant.
    v = np.stack([np.arange(k) / k, np.full(k, 0.5)])
    return VoiceEnvelope(v, t0_ns, rate, np.array([True, True]))


def test_sample_targets_the_sound_heard_at_display_time_plus_small_lag():
    env = envelope()
    display = env.t0_ns + 50_000_000                        # 50 ms after the first sample
    s = sample_envelope(env, display, target_audio_lag_ms=15.0)
    assert abs(s.offset_ms - 15.0) < 1e-6 and s.in_sync
    assert abs(s.energy[0] - (65e-3 * 200) / 40) < 1e-9   # sample at 65 ms -> index 13
    assert s.energy[1] == 0.5


def test_sync_error_reported_against_bt1359_limits():
    env = envelope()
    newest_ns = env.t0_ns + int(39 / 200 * 1e9)
    # Display time far past the newest audio: the picture shows old sound -> sound early.
    s = sample_envelope(env, newest_ns + 30_000_000, target_audio_lag_ms=0.0)
    assert -31 < s.offset_ms < -29 and s.in_sync
    s = sample_envelope(env, newest_ns + 60_000_000, target_audio_lag_ms=0.0)
    assert s.offset_ms < -45 and not s.in_sync
    # Display time before the oldest sample: sound late; fine up to 125 ms.
    s = sample_envelope(env, env.t0_ns - 100_000_000, target_audio_lag_ms=0.0)
    assert 99 < s.offset_ms < 101 and s.in_sync
    s = sample_envelope(env, env.t0_ns - 130_000_000, target_audio_lag_ms=0.0)
    assert not s.in_sync
    assert audio_presentation_time_ns(1000, 20, 5) == 1025


def test_jaw_opens_with_energy_fast_and_closes_slower():
    jaw = np.zeros(1)
    opened = []
    for _ in range(10):                                     # 10 ms steps of loud speech
        jaw = jaw_from_energy(np.array([0.8]), jaw, 0.01)
        opened.append(jaw[0])
    assert opened[-1] > 0.9 and np.all(np.diff(opened) > 0)
    closing = []
    for _ in range(10):
        jaw = jaw_from_energy(np.array([0.0]), jaw, 0.01)
        closing.append(jaw[0])
    assert np.all(np.diff(closing) < 0)
    assert closing[2] > 1.0 - opened[2]                     # slower to close than to open
    assert jaw_from_energy(np.array([0.02]), np.zeros(1), 1.0)[0] < 1e-6  # below the floor stays shut

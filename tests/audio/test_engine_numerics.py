"""Numerical properties of the binaural engine (issue 4), on both of its kernels: the fused loops
(numba) and the numpy route."""

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st
from scipy.signal import fftconvolve

from tests.audio.conftest import direction_from_azimuth, render
from xrdemo.audio.engine import SpatialAudioEngine, distance_gain
from xrdemo.audio.hrtf import interaural_lag
from xrdemo.core.pose import quat_from_yaw_pitch_roll

RNG = np.random.default_rng(4)
NOISE = RNG.standard_normal(256 * 48).astype(np.float32) * 0.1


@pytest.fixture(scope="module", params=["fused", "numpy"])
def kernel(request):
    """Every test runs on both kernels (module scope: hypothesis allows it); the set-up installs
    numba, so the fused kernel is never skipped."""
    return request.param


def make_engine(hrtf, kernel, **kw):
    kw.setdefault("limiter", False)
    engine = SpatialAudioEngine(48000, 256, hrtf=hrtf, kernel=kernel, **kw)
    assert engine.kernel == kernel
    return engine


def xcorr_lag(left, right, max_lag=48):
    """Lag (samples) of left relative to right by low-passed cross-correlation (positive: left
    later): the same measure that made the asset's ITD table (``hrtf.interaural_lag``)."""
    return float(interaural_lag(left, right, 48000, max_lag))


# derandomize: the same sweep in every run (CI-stable); the examples pin the extremes and the
# directions where the old full-band ITD table was worst (between measured azimuths near the sides,
# 295 degrees where the full-band correlation has two near-equal peaks, 112.5 near the rear jump).
@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.floats(0.0, 360.0, exclude_max=True))
@example(0.0)
@example(90.0)
@example(180.0)
@example(270.0)
@example(272.5)
@example(295.0)
@example(112.5)
@example(359.99)
def test_itd_matches_hrtf_and_ild_has_right_sign(hrtf, kernel, azimuth):
    engine = make_engine(hrtf, kernel, near_field=False)
    d = direction_from_azimuth(azimuth)
    engine.set_sources([2.0 * d])
    y = render(engine, NOISE)[1024:]
    lag = xcorr_lag(y[:, 0].astype(np.float64), y[:, 1].astype(np.float64))
    assert abs(lag - float(hrtf.itd(d))) <= 1.0
    ild = 10 * np.log10(np.sum(y[:, 0] ** 2) / np.sum(y[:, 1] ** 2))  # + = left louder
    lateral = -d[0]  # +1 = fully left
    if abs(lateral) > 0.5:
        assert np.sign(ild) == np.sign(lateral)
        assert 4.0 < abs(ild) < 25.0
    if abs(lateral) < 0.05:
        assert abs(ild) < 3.0


def test_static_source_equals_offline_convolution(hrtf, kernel):
    for position, reflections in (([1.2, 0.3, -1.0], False), ([-0.4, 0.1, -0.2], True)):  # far; near + image
        engine = make_engine(hrtf, kernel, reflections=reflections, table_height=-0.5)
        engine.set_sources([position])
        engine.set_listener([0.0, 0.0, 0.0], quat_from_yaw_pitch_roll(0.3))
        y = render(engine, NOISE)
        f = engine.source_filters()[0]
        ref = np.stack([fftconvolve(NOISE, f[0])[:len(NOISE)], fftconvolve(NOISE, f[1])[:len(NOISE)]], axis=1)
        err = y[256:] - ref[256:]  # block 0 fades in from silence
        assert 10 * np.log10(np.sum(err ** 2) / np.sum(ref[256:] ** 2)) < -80.0


def test_head_turns_do_not_click(hrtf, kernel):
    t = np.arange(256 * 60) / 48000
    tone = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)

    def run(step_deg, crossfade=True, offset_deg=0.0):
        engine = make_engine(hrtf, kernel)
        engine.set_sources([[0.0, 0.0, -1.5]])
        out = []
        for i in range(60):
            yaw = offset_deg + step_deg * (i // 4)
            engine.set_listener([0, 0, 0], quat_from_yaw_pitch_roll(np.radians(yaw)))
            if not crossfade:
                engine._fade_in[:] = 1.0  # hard switch, for the failure baseline
            out.append(engine.process(tone[None, i * 256:(i + 1) * 256]).copy())
        return np.concatenate(out)[512:]

    def hf_share(y):  # energy above 3 kHz over total, a 300 Hz tone should have ~none
        window = np.hanning(len(y))[:, None]  # no leakage from the finite excerpt
        spec = np.abs(np.fft.rfft(y * window, axis=0)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / 48000)
        return np.sum(spec[f > 3000]) / np.sum(spec)

    turning, hard = run(15.0), run(15.0, crossfade=False)
    jump = lambda y: np.max(np.abs(np.diff(y, axis=0)))
    static_jump = max(jump(run(0.0, offset_deg=15.0 * k)) for k in range(15))  # every visited yaw, held
    assert jump(turning) < 1.1 * static_jump
    assert hf_share(turning) < 1e-8  # measured ~2e-12 (held: ~1e-14)
    assert hf_share(hard) > 1e3 * hf_share(turning)  # the measure does catch a click (~2e-5)


def test_smooth_sweep_gives_smooth_itd_track(hrtf, kernel):
    engine = make_engine(hrtf, kernel, near_field=False)
    engine.set_sources([[0.0, 0.0, -2.0]])
    noise = RNG.standard_normal(256 * 400).astype(np.float32) * 0.1
    out, yaws = [], np.radians(60.0 * np.arange(400) / 399)  # 0 -> 60 degrees in 2.1 s: source moves right
    for i in range(400):
        engine.set_listener([0, 0, 0], quat_from_yaw_pitch_roll(yaws[i]))
        out.append(engine.process(noise[None, i * 256:(i + 1) * 256]).copy())
    y = np.concatenate(out).astype(np.float64)
    starts = range(1024, len(y) - 4096, 4096)
    lags = np.array([xcorr_lag(y[k:k + 4096, 0], y[k:k + 4096, 1]) for k in starts])
    expected = np.array([float(hrtf.itd(np.array([np.sin(yaws[(k + 2048) // 256]), 0.0,
                                                  -np.cos(yaws[(k + 2048) // 256])]))) for k in starts])
    assert np.all(np.abs(np.diff(lags)) <= 1.5)  # a nearest-direction switch would jump ~2-4 samples
    assert np.all(np.abs(lags - expected) <= 1.5)
    assert lags[0] <= 2 and lags[-1] >= 20  # goes from centre to the right (left ear later)


def test_yaw_step_changes_output_from_next_block(hrtf, kernel):
    def run(step_at):
        engine = make_engine(hrtf, kernel)
        engine.set_sources([[0.0, 0.0, -1.5]])
        engine.set_listener([0, 0, 0], [0, 0, 0, 1])
        blocks = []
        for i in range(12):
            blocks.append(engine.process(NOISE[None, i * 256:(i + 1) * 256]).copy())
            if i == step_at:  # the head turns while block i is playing
                engine.set_listener([0, 0, 0], quat_from_yaw_pitch_roll(np.radians(40.0)))
        return blocks

    base, stepped = run(step_at=None), run(step_at=6)
    changed = [float(np.sum((a - b) ** 2) / np.sum(a ** 2)) for a, b in zip(base, stepped)]
    first = next(i for i, c in enumerate(changed) if c > 1e-6)
    assert first == 7
    assert changed[7] > 1e-3


def test_distance_is_monotonic_and_never_silent(hrtf, kernel):
    distances = np.array([0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0])
    levels = []
    for r in distances:
        engine = make_engine(hrtf, kernel)
        engine.set_sources([[0.0, 0.0, -r]])
        y = render(engine, NOISE)[512:]
        levels.append(10 * np.log10(np.mean(y.astype(np.float64) ** 2)))
    levels = np.array(levels)
    assert np.all(np.diff(levels) < 0)
    assert levels[-1] - levels[4] > -12.0  # 8 m is at most 12 dB below 1 m: never silent in a room
    assert levels[6] - levels[4] > -4.0  # across a table (2 m): gentle
    assert np.all(np.diff(distance_gain(np.linspace(0.01, 50, 500))) <= 0)
    assert distance_gain(1e4) > 0


def test_near_field_raises_low_frequency_ild(hrtf, kernel):
    def low_ild(r):
        engine = make_engine(hrtf, kernel)
        engine.set_sources([[-r, 0.0, 0.0]])  # to the left
        y = render(engine, NOISE)[512:].astype(np.float64)
        spec = np.abs(np.fft.rfft(y, axis=0)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / 48000)
        band = (f > 100) & (f < 800)
        return 10 * np.log10(spec[band, 0].sum() / spec[band, 1].sum())

    assert low_ild(0.25) > low_ild(1.5) + 6.0


def test_limiter_never_clips(hrtf, kernel):
    engine = make_engine(hrtf, kernel, limiter=True)
    engine.set_sources(np.array([[0.1, 0.0, -0.2]] * 8))
    loud = np.tile(RNG.standard_normal(256 * 20).astype(np.float32) * 4.0, (8, 1))
    peaks = [np.max(np.abs(engine.process(loud[:, i * 256:(i + 1) * 256]))) for i in range(20)]
    assert max(peaks) < np.float32(0.98)
    assert engine.limiter.engaged_blocks > 0


def test_fast_filter_spectra_equal_time_domain_filters(hrtf, kernel):
    """process() builds filters from stored spectra; they must equal the time-domain reference."""
    rng = np.random.default_rng(7)
    for reflections in (False, True):
        engine = make_engine(hrtf, kernel, reflections=reflections, table_height=-0.4)
        positions = rng.uniform(-2.0, 2.0, (6, 3))
        positions[0] = (0.3, 0.05, -0.2)  # near field
        engine.set_sources(positions, rng.uniform(0.2, 1.0, 6))
        engine.set_whisper_gains([1.0, 0.0, 1.0, 0.18, 1.0, 1.41])
        engine.set_listener([0.1, 0.0, 0.2], quat_from_yaw_pitch_roll(1.1, 0.2, -0.1))
        fast = engine.filter_spectra()
        ref = np.fft.rfft(engine.source_filters(), axis=-1) / engine.fft_size
        err = np.sum(np.abs(fast - ref) ** 2) / np.sum(np.abs(ref) ** 2)
        assert 10 * np.log10(err) < -100.0


def test_fused_kernel_renders_what_the_numpy_route_renders(hrtf):
    """The two kernels on one moving scene with every feature on: near field, whisper gains,
    reflections (one clipped at the longest extra delay), a source inside the head, the number of
    sources changing (0 included), listener moves and turns, blocks with and without a filter
    change. No limiter: the raw mix is compared."""
    rng = np.random.default_rng(11)
    counts = {0: 9, 8: 3, 12: 0, 14: 1, 16: 9}  # block -> number of sources from then on
    for reflections in (False, True):
        engines = [make_engine(hrtf, k, reflections=reflections, table_height=0.3) for k in ("fused", "numpy")]
        positions = rng.uniform(-2.0, 2.0, (9, 3))
        positions[0] = (0.3, 0.05, -0.2)  # near field
        positions[3] = (0.0, 0.0, 0.0)  # inside the head (the listener starts at the origin)
        positions[5] = (0.5, 60.0, -1.0)  # its table image is further than the filters can delay
        signals = rng.standard_normal((9, 256 * 30)).astype(np.float32) * 0.3
        outputs = [[], []]
        n = 9
        for i in range(30):
            yaw = 0.05 * (i - i % 3)  # a turn every third block: the others reuse the filters
            for engine, out in zip(engines, outputs):
                if i in counts or i == 20:
                    n = counts.get(i, n)
                    engine.set_sources(positions[:n] + 0.05 * (i == 20), np.linspace(0.3, 1.0, 9)[:n])
                    engine.set_whisper_gains(np.array([1.0, 0.2, 1.4, 1.0, 0.0, 1.0, 0.7, 1.0, 1.0])[:n])
                engine.set_listener([0.0, 0.0, 0.1 * (i > 22)], quat_from_yaw_pitch_roll(yaw, 0.1, 0.0))
                out.append(engine.process(signals[:n, i * 256:(i + 1) * 256]).copy())
        fused_out, numpy_out = np.concatenate(outputs[0]), np.concatenate(outputs[1])
        for block in range(30):  # each block on its own: a quiet one must agree as well
            a, b = fused_out[block * 256:(block + 1) * 256], numpy_out[block * 256:(block + 1) * 256]
            energy = np.sum(b ** 2)
            if block in range(12, 14):
                assert energy == 0.0 and np.all(a == 0.0)  # no sources
            else:
                assert energy > 1e-3, block
                assert 10 * np.log10(np.sum((a - b) ** 2) / energy) < -110.0, (reflections, block)
        assert engines[0].filter_updates == engines[1].filter_updates


def test_kernel_choice(hrtf, monkeypatch):
    monkeypatch.setenv("XRDEMO_AUDIO_KERNEL", "numpy")
    assert SpatialAudioEngine(48000, 256, hrtf=hrtf).kernel == "numpy"
    assert SpatialAudioEngine(48000, 256, hrtf=hrtf, kernel="fused").kernel == "fused"
    monkeypatch.setenv("XRDEMO_AUDIO_KERNEL", "")
    assert SpatialAudioEngine(48000, 256, hrtf=hrtf).kernel == "fused"  # numba is installed
    monkeypatch.setenv("XRDEMO_AUDIO_KERNEL", "cuda")
    with pytest.raises(ValueError, match="XRDEMO_AUDIO_KERNEL must be 'fused' or 'numpy', not 'cuda'"):
        SpatialAudioEngine(48000, 256, hrtf=hrtf)
    with pytest.raises(ValueError, match="audio kernel must be"):
        SpatialAudioEngine(48000, 256, hrtf=hrtf, kernel="fast")


def test_a_broken_numba_falls_back_to_numpy_or_names_the_cause(hrtf, monkeypatch, capsys):
    from xrdemo.audio import fused

    def broken():
        raise ImportError("numba needs NumPy 2.3 or less")

    monkeypatch.setattr(fused, "kernels", broken)  # (kernels() itself caches a failure)
    monkeypatch.setattr(fused, "_FALLBACK_SAID", False)
    monkeypatch.delenv("XRDEMO_AUDIO_KERNEL", raising=False)
    assert SpatialAudioEngine(48000, 256, hrtf=hrtf).kernel == "numpy"
    assert SpatialAudioEngine(48000, 256, hrtf=hrtf).kernel == "numpy"
    err = capsys.readouterr().err
    assert err.count("audio: the fused kernel could not be loaded (ImportError: numba needs NumPy") == 1
    assert "using the numpy route" in err
    with pytest.raises(ValueError, match="fused audio kernel could not be loaded .ImportError: numba needs"):
        SpatialAudioEngine(48000, 256, hrtf=hrtf, kernel="fused")
    monkeypatch.setenv("XRDEMO_AUDIO_KERNEL", "fused")
    with pytest.raises(ValueError, match="could not be loaded"):
        SpatialAudioEngine(48000, 256, hrtf=hrtf)

#!/usr/bin/env python3
"""Convert the MIT KEMAR HRTF set (SOFA) into the compact asset the audio engine ships.

Run once at development time (needs h5py and scipy; the runtime loader needs only numpy):

    python scripts/make_hrtf_asset.py [--sofa /usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa]
                                      [--out assets/hrtf_kemar_48k.npz] [--taps 128]

Steps per measured direction (710 of them, elevation -40..90 degrees, 1.4 m):
1. resample 44.1 kHz -> 48 kHz (polyphase, 160/147);
2. per-ear onset delay: first sample of the 8x upsampled response within -20 dB of that ear's peak
   (the threshold method; smooth over direction, unlike the full-band interaural cross-correlation,
   which at lateral and rear-lateral directions jumps by up to 16 samples between neighbours because
   the far ear hears two diffracted paths); stored relative to the earlier ear, which gets 1 sample;
3. diffuse-field equalisation (divide by the RMS spectrum over all directions and both ears,
   clamped to +-12 dB) to remove the measurement loudspeaker and microphone colouring;
4. minimum-phase reconstruction (real cepstrum), truncated to ``--taps`` with a short fade-out;
5. the asset's ITD table: ``xrdemo.audio.hrtf.interaural_lag`` (low-passed cross-correlation) of
   the minimum-phase pair delayed (exactly, in the frequency domain) by the per-ear delays, i.e.
   the ITD a renderer of this asset produces at each measured direction.
The asset stores direction grid, minimum-phase HRIRs (D, 2, taps), per-ear delays (D, 2), ITDs (D,).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as written in the docs (`scripts/NAME.py ...`): re-run with the project's .venv Python
# when this one is not it.
_VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])


import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xrdemo.audio.hrtf import interaural_lag  # noqa: E402  (numpy only; one ITD definition)

SOURCE_RATE = 44100
TARGET_RATE = 48000
NFFT = 4096  # spectral resolution used for equalisation and minimum-phase reconstruction

CITATION = (
    "MIT KEMAR HRTF measurements (normal pinna), Bill Gardner and Keith Martin, "
    "MIT Media Lab, 1994. Gardner, W. G., & Martin, K. D. (1995). HRTF measurements of a KEMAR. "
    "J. Acoust. Soc. Am. 97(6), 3907-3908. Free to use provided the authors are cited. "
    "Converted from Debian libmysofa1's MIT_KEMAR_normal_pinna.sofa by scripts/make_hrtf_asset.py "
    "(48 kHz, diffuse-field equalised, minimum phase + separate per-ear onset delay)."
)


def read_sofa(path: Path):
    import h5py

    with h5py.File(path, "r") as f:
        ir = np.asarray(f["Data.IR"][:], dtype=np.float64)  # (D, 2, 512): ear 0 = left
        pos = np.asarray(f["SourcePosition"][:], dtype=np.float64)  # (D, 3): az (deg, CCW, 90=left), el, r
        rate = float(f["Data.SamplingRate"][0])
    if rate != SOURCE_RATE:
        raise ValueError(f"expected {SOURCE_RATE} Hz, found {rate}")
    return ir, pos


def onset_samples(ir: np.ndarray, threshold_db: float = -20.0, upsample: int = 8) -> np.ndarray:
    """Onset (..., ) in samples of responses ir (..., L): the first sample of the band-limited
    (FFT-)upsampled response whose magnitude reaches ``threshold_db`` below its own peak."""
    from scipy.signal import resample

    up = np.abs(resample(ir, ir.shape[-1] * upsample, axis=-1))
    level = up.max(axis=-1, keepdims=True) * 10.0 ** (threshold_db / 20.0)
    return np.argmax(up >= level, axis=-1) / upsample


def delayed(h: np.ndarray, delay: np.ndarray, n: int = 1024) -> np.ndarray:
    """h (..., T) delayed by ``delay`` (...,) samples (exact band-limited delay), length n."""
    f = np.fft.rfftfreq(n)
    return np.fft.irfft(np.fft.rfft(h, n) * np.exp(-2j * np.pi * f * delay[..., None]), n)


def minimum_phase(magnitude: np.ndarray, nfft: int) -> np.ndarray:
    """Minimum-phase impulse responses (..., nfft) from magnitude spectra (..., nfft//2+1)."""
    log_mag = np.log(np.maximum(magnitude, 1e-8))
    cep = np.fft.irfft(log_mag, nfft)
    fold = np.zeros(nfft)
    fold[0] = 1.0
    fold[1: nfft // 2] = 2.0
    fold[nfft // 2] = 1.0
    return np.fft.irfft(np.exp(np.fft.rfft(cep * fold, nfft)), nfft)


def convert(sofa: Path, taps: int):
    from scipy.signal import resample_poly

    ir44, pos = read_sofa(sofa)
    ir = resample_poly(ir44, TARGET_RATE // 300, SOURCE_RATE // 300, axis=-1)  # 160/147
    onset = onset_samples(ir)  # (D, 2)

    spec = np.abs(np.fft.rfft(ir, NFFT))  # (D, 2, F)
    diffuse = np.sqrt(np.mean(spec**2, axis=(0, 1)))
    # smooth the diffuse-field response over ~1/6 octave-ish with a moving average in bins
    kernel = np.ones(9) / 9
    diffuse = np.convolve(diffuse, kernel, mode="same")
    eq = 1.0 / np.maximum(diffuse, 1e-12)
    eq /= np.median(eq[(np.arange(eq.size) * TARGET_RATE / NFFT > 500) & (np.arange(eq.size) * TARGET_RATE / NFFT < 2000)])
    eq = np.clip(eq, 10 ** (-12 / 20), 10 ** (12 / 20))
    mp = minimum_phase(spec * eq, NFFT)[..., :taps]
    fade = 16
    mp[..., taps - fade:] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(fade) + 1) / fade)

    # Normalise so the louder ear of a frontal source has unit energy-ish gain at mid frequencies.
    front = int(np.argmin(np.abs(pos[:, 0]) + np.abs(pos[:, 1])))
    mp /= np.sqrt(np.mean(np.abs(np.fft.rfft(mp[front], NFFT)) ** 2))

    # Per-ear delays: the onset delays with the earlier ear at 1 sample (a minimum-phase response
    # starts at once, so the pair keeps the measured onset difference). The ITD table is what a
    # renderer of this asset produces: the low-passed cross-correlation lag of the delayed pair.
    delay = onset - onset.min(axis=1, keepdims=True) + 1.0
    itd = interaural_lag(delayed(mp[:, 0], delay[:, 0]), delayed(mp[:, 1], delay[:, 1]), TARGET_RATE)

    az = pos[:, 0] % 360.0
    el = pos[:, 1]
    return dict(
        azimuth_deg=az.astype(np.float32),
        elevation_deg=el.astype(np.float32),
        hrir=mp.astype(np.float32),
        delay=delay.astype(np.float32),
        itd=itd.astype(np.float32),
        sample_rate=np.int32(TARGET_RATE),
        distance_m=np.float32(pos[0, 2]),
        citation=np.array(CITATION),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sofa", type=Path, default=Path("/usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa"))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets" / "hrtf_kemar_48k.npz")
    ap.add_argument("--taps", type=int, default=128)
    args = ap.parse_args()
    data = convert(args.sofa, args.taps)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} kB): {data['hrir'].shape[0]} directions, "
          f"{data['hrir'].shape[-1]} taps, max |ITD| {np.abs(data['itd']).max():.1f} samples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

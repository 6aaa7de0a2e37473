"""Convert the MIT KEMAR HRTF set (SOFA) into the compact asset the audio engine ships.

Run once at development time (needs h5py and scipy; the runtime loader needs only numpy):

    python scripts/make_hrtf_asset.py [--sofa /usr/share/libmysofa/MIT_KEMAR_normal_pinna.sofa]
                                      [--out assets/hrtf_kemar_48k.npz] [--taps 128]

Steps per measured direction (710 of them, elevation -40..90 degrees, 1.4 m):
1. resample 44.1 kHz -> 48 kHz (polyphase, 160/147);
2. interaural time difference from the cross-correlation of the two ears (sub-sample, parabolic
   peak fit), so the engine can re-insert it as a separate fractional delay;
3. diffuse-field equalisation (divide by the RMS spectrum over all directions and both ears,
   clamped to +-12 dB) to remove the measurement loudspeaker and microphone colouring;
4. minimum-phase reconstruction (real cepstrum), truncated to ``--taps`` with a short fade-out.
The asset stores direction grid, minimum-phase HRIRs (D, 2, taps) and per-ear delays (D, 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SOURCE_RATE = 44100
TARGET_RATE = 48000
NFFT = 4096  # spectral resolution used for equalisation and minimum-phase reconstruction

CITATION = (
    "MIT KEMAR HRTF measurements (normal pinna), Bill Gardner and Keith Martin, "
    "MIT Media Lab, 1994. Gardner, W. G., & Martin, K. D. (1995). HRTF measurements of a KEMAR. "
    "J. Acoust. Soc. Am. 97(6), 3907-3908. Free to use provided the authors are cited. "
    "Converted from Debian libmysofa1's MIT_KEMAR_normal_pinna.sofa by scripts/make_hrtf_asset.py "
    "(48 kHz, diffuse-field equalised, minimum phase + separate per-ear delay)."
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


def itd_samples(ir: np.ndarray, max_lag: int = 48) -> np.ndarray:
    """Delay of the left ear minus the right ear, in samples, from the interaural cross-correlation.

    ir: (D, 2, L). Positive means the left ear hears later (source on the right).
    """
    from scipy.signal import correlate

    out = np.empty(ir.shape[0])
    for d in range(ir.shape[0]):
        c = correlate(ir[d, 0], ir[d, 1], mode="full", method="fft")
        mid = ir.shape[-1] - 1
        window = c[mid - max_lag: mid + max_lag + 1]
        k = int(np.argmax(window))
        frac = 0.0
        if 0 < k < len(window) - 1:
            a, b, cc = window[k - 1], window[k], window[k + 1]
            denom = a - 2 * b + cc
            frac = 0.5 * (a - cc) / denom if denom != 0 else 0.0
        out[d] = k - max_lag + frac
    return out


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
    itd = itd_samples(ir)

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

    # Per-ear delays: the leading ear gets the base delay, the lagging ear base + |lag|, where the
    # lag is the measured ITD minus what the two minimum-phase responses already contribute (their
    # group delays differ), so the rendered pair's cross-correlation ITD equals the measured one.
    residual = itd - itd_samples(mp, max_lag=16)
    base = 1.0
    delay = np.stack([base + np.maximum(residual, 0.0), base + np.maximum(-residual, 0.0)], axis=1)

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
          f"{data['hrir'].shape[-1]} taps, max |ITD| {np.abs(data['delay'][:, 0] - data['delay'][:, 1]).max():.1f} samples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

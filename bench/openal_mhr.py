"""Write an HRTF set as an OpenAL Soft "MinPHR02" data set (.mhr), for the audio benchmark: lets
OpenAL Soft 1.19 render with the same 128-tap MIT KEMAR filters as our engine.

MinPHR02 layout (OpenAL Soft 1.19.1 Alc/hrtf.c LoadHrtf02; checked against Debian's
default-48000.mhr), all little-endian:
    b"MinPHR02", uint32 rate, uint8 sampleType (0 = int16, 1 = int24), uint8 channelType
    (0 = left ear only, 1 = left/right interleaved per sample), uint8 irSize (8..255, multiple of 8),
    uint8 fdCount (1.19 accepts only 1), then per field: uint16 distance mm, uint8 evCount (5..128),
    evCount x uint8 azCount (1..128); then every HRIR (field, elevation, azimuth order) as irSize x
    channels int24 samples, then per HRIR and channel a uint8 delay in whole samples (<= 63).
Elevations are evCount rings spread evenly from -90 to +90 degrees; azimuths run evenly from 0 (ahead)
clockwise seen from above (OpenAL's az = atan2(x, -z): +90 = right), the opposite sense of ours.

KEMAR has rings -40..+90 only: the missing rings below (-90..-50) repeat the lowest measured ring,
which is what our engine does below -40 (elevations under the lowest ring use the lowest ring).
Gains are scaled by one common factor so the largest coefficient fits int24; delays are rounded to
whole samples (1.19 has no fractional HRIR delay).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from xrdemo.audio.hrtf import HrtfSet, load_hrtf

MAX_DELAY = 63  # OpenAL Soft 1.19: HRTF_HISTORY_LENGTH - 1
INT24_MAX = (1 << 23) - 1


def mhr_bytes(hrtf: HrtfSet, distance_mm: int = 1400) -> bytes:
    """The MinPHR02 file contents for ``hrtf`` (stereo, 24-bit, irSize = hrtf.taps)."""
    step = float(np.diff(hrtf.ring_elevation).min())
    ev_count = int(round(180.0 / step)) + 1
    full = np.linspace(-90.0, 90.0, ev_count)
    measured = {round(float(e), 3): r for r, e in enumerate(hrtf.ring_elevation)}
    rings = []  # per OpenAL ring: our ring index (lowest measured ring below the measured range)
    for e in full:
        key = round(float(e), 3)
        if key in measured:
            rings.append(measured[key])
        elif e < hrtf.ring_elevation[0]:
            rings.append(0)
        else:
            raise ValueError(f"HRTF has no ring at elevation {e} (rings must be evenly spaced)")
    order = []  # our table indices in OpenAL order
    for r in rings:
        c, s = int(hrtf.ring_count[r]), int(hrtf.ring_start[r])
        order.extend(s + (c - j) % c for j in range(c))  # OpenAL clockwise j = our counter-clockwise -j
    order = np.asarray(order)
    hrir = hrtf.hrir[order].astype(np.float64)  # (M, 2, T)
    scale = min(1.0, 0.999 / float(np.abs(hrir).max()))
    samples = np.round(hrir * scale * INT24_MAX).astype(np.int32).transpose(0, 2, 1)  # (M, T, ear)
    raw = np.ascontiguousarray(samples, dtype="<i4").view(np.uint8).reshape(-1, 4)[:, :3]  # low 3 bytes, little-endian
    delays = np.round(hrtf.delay[order]).astype(np.int64)
    if delays.max() > MAX_DELAY or delays.min() < 0:
        raise ValueError(f"HRIR delays must be 0..{MAX_DELAY} samples for OpenAL Soft 1.19")
    taps = hrtf.taps
    if not (8 <= taps <= 255 and taps % 8 == 0):
        raise ValueError(f"MinPHR02 needs 8..255 taps in multiples of 8, not {taps}")
    head = b"MinPHR02" + struct.pack("<IBBBB", hrtf.sample_rate, 1, 1, taps, 1)
    head += struct.pack("<HB", distance_mm, ev_count)
    head += bytes(int(hrtf.ring_count[r]) for r in rings)
    return head + raw.tobytes() + delays.astype(np.uint8).tobytes()


def write_mhr(folder, name: str = "xrdemo-kemar128", hrtf: HrtfSet | None = None) -> Path:
    """Write ``folder/name.mhr`` (OpenAL Soft enumerates it as ``name``); returns the path."""
    hrtf = load_hrtf() if hrtf is None else hrtf
    path = Path(folder) / f"{name}.mhr"
    path.write_bytes(mhr_bytes(hrtf))
    return path


def read_mhr_header(path) -> dict:
    """Header fields of a MinPHR02 file: rate, sample_type, channel_type, ir_size, distance_mm,
    az_counts (one field only), and the sizes the body should have."""
    data = Path(path).read_bytes()
    if data[:8] != b"MinPHR02":
        raise ValueError(f"{path}: not a MinPHR02 file")
    rate, sample_type, channel_type, ir_size, fd_count = struct.unpack_from("<IBBBB", data, 8)
    distance, ev_count = struct.unpack_from("<HB", data, 16)
    az = list(data[19:19 + ev_count])
    channels = 2 if channel_type == 1 else 1
    body = sum(az) * (ir_size * channels * (sample_type + 2) + channels)
    return {"rate": rate, "sample_type": sample_type, "channel_type": channel_type, "ir_size": ir_size,
            "fd_count": fd_count, "distance_mm": distance, "az_counts": az,
            "size_ok": len(data) == 19 + ev_count + body}

"""Voice codec benchmark: µs per 20 ms frame to encode, decode, rebuild by FEC and conceal; bytes/s.

    PYTHONPATH=. python bench/voice_codec.py [--rounds 5] [--bitrate 24000]

Runs libopus (through xrdemo/net/opus.py) on the shipped speech clips at 48 kHz mono, 20 ms frames.
Rows: encode (FEC on / off), decode, decode_fec, conceal (PLC), and one VoiceReceiver.pull of 256
samples with a steady stream (the audio-thread cost per block, ingest + jitter buffer + decode).
Times are medians over ``--rounds`` rounds, each over every frame of the clips; the last column is the
cost as a share of the 20 ms frame (or of the 5.3 ms block for pull): the real-time load of one voice.
A reference row (numpy RMS of a frame, same process) gives the ratio column, so that runs on busier
or faster machines can be compared.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from xrdemo.audio.voices import load_voices
from xrdemo.net.opus import OpusDecoder, OpusEncoder, version
from xrdemo.net.voice import VoiceReceiver, VoiceSender

# bench/ is on sys.path as the script's folder
from timing import median_us_per_call

RATE = 48000
FRAME = 960
BLOCK = 256


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--bitrate", type=int, default=24000)
    args = parser.parse_args(argv)

    speech = np.concatenate(load_voices(RATE))
    frames = [speech[i * FRAME:(i + 1) * FRAME].copy() for i in range(len(speech) // FRAME)]
    seconds = len(frames) * FRAME / RATE

    rows = []
    reference = median_us_per_call(lambda f: float(np.sqrt(np.mean(np.square(f)))), frames, args.rounds)
    rows.append(("reference: numpy RMS of a frame", reference, None, None))

    packets = {}
    for fec in (True, False):
        enc = OpusEncoder(bitrate=args.bitrate, fec=fec)
        packets[fec] = [enc.encode(f) for f in frames]
        enc.reset()
        us = median_us_per_call(enc.encode, frames, args.rounds)
        rate = sum(len(p) for p in packets[fec]) / seconds
        rows.append((f"encode, FEC {'on ' if fec else 'off'}", us, FRAME, rate))

    stream = packets[True]
    dec = OpusDecoder()
    rows.append(("decode", median_us_per_call(dec.decode, stream, args.rounds), FRAME, None))
    rows.append(("decode_fec (rebuild the previous frame)", median_us_per_call(dec.decode_fec, stream, args.rounds),
                 FRAME, None))
    rows.append(("conceal (PLC)", median_us_per_call(lambda _: dec.conceal(), stream, args.rounds), FRAME, None))

    # a steady stream through sender + receiver, pulled in 256-sample blocks; only pull is timed
    sender = VoiceSender(RATE, bitrate=args.bitrate)
    blocks = len(speech) // BLOCK
    pull_times = []
    for _ in range(args.rounds):
        rcv = VoiceReceiver(RATE)
        elapsed = 0.0
        for i in range(blocks):
            now_ms = (i + 1) * BLOCK * 1000 / RATE
            for seq, t, p in sender.push(speech[i * BLOCK:(i + 1) * BLOCK], int(i * BLOCK * 1000 / RATE)):
                rcv.push(seq, t, p, int((now_ms + 2) * 1e6))
            t0 = time.perf_counter()
            rcv.pull(BLOCK, int(now_ms * 1e6))
            elapsed += time.perf_counter() - t0
        pull_times.append(elapsed / blocks * 1e6)
    rows.append(("VoiceReceiver.pull(256) incl. decode", statistics.median(pull_times), BLOCK, None))

    print(f"{version()}, {args.bitrate} bit/s, 48 kHz mono, 20 ms frames, {len(frames)} frames of speech, "
          f"median of {args.rounds} rounds")
    print(f"{'operation':42s} {'µs/call':>9s} {'x ref':>7s} {'% of real time':>15s} {'bytes/s':>9s}")
    for name, us, samples, rate in rows:
        load = f"{100 * us / (samples / RATE * 1e6):.2f} %" if samples else ""
        print(f"{name:42s} {us:9.1f} {us / reference:7.1f} {load:>15s} {f'{rate:.0f}' if rate else '':>9s}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

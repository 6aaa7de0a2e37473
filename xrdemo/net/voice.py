"""Voice over the network: microphone blocks -> 20 ms Opus packets, and packets -> a jitter buffer with
FEC recovery and loss concealment -> playback blocks of any size.

Time is passed in: the sender gets the sender clock (ms) of each block's first sample; the receiver gets
each packet's arrival time and each pull's playback time, both in ns on one local clock (e.g.
``time.monotonic_ns()``). Sequence numbers are uint16 and t_ms uint32; both wrap.

Threads: ``VoiceReceiver.push`` (network thread) only appends to a deque; everything else happens in
``pull`` (audio thread), so the two never share mutable state beyond that queue.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass

import numpy as np

from xrdemo.net.opus import MAX_PACKET, EncoderSettings, OpusDecoder, OpusEncoder, OpusError, packet_has_fec

FRAME_MS = 20
SEQ_MOD = 1 << 16
T_MOD = 1 << 32


def seq_delta(a: int, b: int) -> int:
    """a - b for uint16 sequence numbers, in -32768..32767 (wrap-around aware)."""
    return ((a - b + (SEQ_MOD >> 1)) % SEQ_MOD) - (SEQ_MOD >> 1)


def t_delta(a: int, b: int) -> int:
    """a - b for uint32 millisecond stamps, in -2**31..2**31-1 (wrap-around aware)."""
    return ((a - b + (T_MOD >> 1)) % T_MOD) - (T_MOD >> 1)


def level_from_rms(rms: float, floor_db: float = -60.0, full_db: float = -12.0) -> float:
    """0..1 speaking level from an RMS amplitude: floor_db (dBFS) -> 0, full_db -> 1, linear in dB."""
    db = 20.0 * math.log10(max(rms, 1e-9))
    return float(min(1.0, max(0.0, (db - floor_db) / (full_db - floor_db))))


class VoiceSender:
    """Mono float32 blocks of any length in, one Opus packet per complete 20 ms frame out.

    ``push(samples (n,), t_ms) -> [(seq, t_ms, payload), ...]``: ``t_ms`` is the sender clock (ms) of
    ``samples[0]``; a frame's stamp is that of its first sample (frames that began in an earlier push are
    dated back from this push's stamp, so the stamps follow the caller's clock, not a sample count).
    """

    def __init__(self, sample_rate: int = 48000, settings: EncoderSettings | None = None, first_seq: int = 0,
                 **encoder_overrides):
        if settings is None:
            settings = EncoderSettings(sample_rate=sample_rate, frame_ms=FRAME_MS, **encoder_overrides)
        self.encoder = OpusEncoder(settings)
        self.sample_rate = settings.sample_rate
        self.frame_size = settings.frame_size
        self._buf = np.zeros(self.frame_size, dtype=np.float32)
        self._fill = 0
        self.seq = first_seq % SEQ_MOD           # the next packet's sequence number
        self.frames = 0
        self.bytes = 0

    def push(self, samples: np.ndarray, t_ms: int) -> list[tuple[int, int, bytes]]:
        x = np.asarray(samples, dtype=np.float32).reshape(-1)
        out = []
        ms_per_sample = 1000.0 / self.sample_rate
        pos = 0
        while pos < x.size:
            take = min(self.frame_size - self._fill, x.size - pos)
            self._buf[self._fill:self._fill + take] = x[pos:pos + take]
            self._fill += take
            pos += take
            if self._fill == self.frame_size:
                # the frame's first sample sits frame_size samples before this push's pos
                first = pos - self.frame_size
                stamp = (int(t_ms) + int(round(first * ms_per_sample))) % T_MOD
                payload = self.encoder.encode(self._buf)
                out.append((self.seq, stamp, payload))
                self.seq = (self.seq + 1) % SEQ_MOD
                self.frames += 1
                self.bytes += len(payload)
                self._fill = 0
        return out

    @property
    def delay_samples(self) -> int:
        """Codec delay added by the encoder (look-ahead), samples."""
        return self.encoder.lookahead


@dataclass
class JitterSettings:
    """Jitter-buffer behaviour (milliseconds unless said otherwise)."""

    start_ms: float = 40.0          # target playout delay before enough packets were seen to measure jitter
    min_ms: float = 20.0            # bounds of the adaptive target
    max_ms: float = 200.0
    margin_ms: float = 8.0          # headroom over the measured jitter (95th percentile) and the pull block
    late_boost_ms: float = 20.0     # target grows by this much at once for each late packet
    shrink_tau_s: float = 6.0       # the target decays towards the measurement with this time constant
    window_packets: int = 150       # packets (3 s) used for the clock offset and jitter estimates
    min_packets: int = 20           # packets before the measured jitter replaces start_ms
    conceal_frames: int = 3         # PLC frames while the buffer is dry before fading to silence
    fade_ms: float = 2.5            # fade-in after silence
    inbox_limit: int = 1000         # packets queued between pulls (older ones are dropped beyond this)
    restart_after: int = 3          # packets in a row far from the stream (seq or time) that restart it


class VoiceReceiver:
    """One remote speaker: ``push(seq, t_ms, payload, arrival_ns)`` and ``pull(n, now_ns) -> (n,) float32``.

    Playout delay (``stats['depth_ms']``) is measured on the sender's time line: how far the frame being
    played lags the sender's clock mapped to ours through the minimum network transit seen, so network
    jitter (not the base transit) is what it covers. The target follows the jitter's 95th percentile plus
    the pull block and a margin (20..200 ms, growing at once on late packets, shrinking slowly). The buffer
    reaches the target by inserting concealment frames and leaves surplus by merging two frames into one
    (cross-faded, preferably in quiet frames). A missing frame is rebuilt from the next packet's FEC data
    when that packet is here, else concealed; a dry buffer conceals a few frames and then fades to silence.
    """

    def __init__(self, sample_rate: int = 48000, settings: JitterSettings | None = None):
        self.sample_rate = sample_rate
        self.cfg = settings or JitterSettings()
        self.frame_size = sample_rate * FRAME_MS // 1000
        self.decoder = OpusDecoder(sample_rate, 1, self.frame_size)
        self._inbox = collections.deque()
        self._packets: dict[int, tuple[int, bytes]] = {}     # extended seq -> (unwrapped t_ms, payload)
        self._recent = collections.deque(maxlen=64)           # extended seqs already played (duplicates)
        self._transits = collections.deque(maxlen=self.cfg.window_packets)
        self._highest: int | None = None                      # extended seq of the newest packet
        self._highest_raw = 0
        self._t_ref_raw = 0
        self._t_ref_unw = 0
        self._next: int | None = None                         # extended seq of the next frame to play
        self._next_t = 0.0                                    # its sender time (unwrapped ms)
        self.playing = False
        self._dry = 0                                         # consecutive frames concealed with an empty buffer
        self._foreign = 0                                     # consecutive packets that fit no stream
        self._fade_in = False
        self._since_expand = 99
        self._block_ms = 256 * 1000.0 / sample_rate
        self.target_ms = self.cfg.start_ms
        self._measured_ms = self.cfg.start_ms
        self._offset_ms = 0.0
        self.depth_ms = 0.0
        self._pending = np.zeros(4 * self.frame_size, dtype=np.float32)
        self._pending_n = 0
        fade = max(1, int(sample_rate * self.cfg.fade_ms / 1000))
        self._fade_in_ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)).astype(np.float32)
        self._fade_out_ramp = (0.5 + 0.5 * np.cos(np.pi * (np.arange(self.frame_size) + 0.5)
                                                  / self.frame_size)).astype(np.float32)
        self.level = 0.0
        self.counts = dict(received=0, played=0, lost=0, concealed=0, fec_recovered=0, late=0, duplicates=0,
                           underflows=0, decode_errors=0, invalid=0, accelerated=0, expanded=0, overflow=0)

    # --- network thread -------------------------------------------------------------------------

    def push(self, seq: int, t_ms: int, payload: bytes, arrival_ns: int):
        """Queue one packet (cheap, thread-safe: a deque append)."""
        if len(self._inbox) >= self.cfg.inbox_limit:
            try:
                self._inbox.popleft()
            except IndexError:
                pass
        self._inbox.append((seq, t_ms, payload, arrival_ns))

    # --- audio thread ---------------------------------------------------------------------------

    @property
    def stats(self) -> dict:
        """Counters plus depth_ms (current playout delay) and target_ms."""
        return dict(self.counts, depth_ms=round(self.depth_ms, 1), target_ms=round(self.target_ms, 1))

    def pull(self, n: int, now_ns: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next ``n`` samples to play; ``now_ns``: when this block starts playing (local clock)."""
        n = int(n)
        out = np.zeros(n, dtype=np.float32) if out is None else out
        self._block_ms = max(self._block_ms * 0.9, n * 1000.0 / self.sample_rate)
        now_ms = now_ns / 1e6
        self._ingest()
        while self._pending_n < n:
            t_play = now_ms + self._pending_n * 1000.0 / self.sample_rate
            frame = self._next_frame(t_play)
            if frame is None:           # not playing: silence for the rest of this block only
                self._append(np.zeros(n - self._pending_n, dtype=np.float32))
                break
            self._append(frame)
        np.clip(self._pending[:n], -1.0, 1.0, out=out)   # a hostile packet that decodes can be loud
        self._pending_n -= n
        self._pending[:self._pending_n] = self._pending[n:n + self._pending_n]
        rms = float(np.sqrt(np.mean(np.square(out, dtype=np.float64)))) if n else 0.0
        target = level_from_rms(rms)
        k = 0.6 if target > self.level else 1.0 - math.exp(-n / self.sample_rate / 0.12)
        self.level += (target - self.level) * k
        return out

    def _append(self, x: np.ndarray):
        need = self._pending_n + x.size
        if need > self._pending.size:
            grown = np.zeros(max(need, 2 * self._pending.size), dtype=np.float32)
            grown[:self._pending_n] = self._pending[:self._pending_n]
            self._pending = grown
        self._pending[self._pending_n:need] = x
        self._pending_n = need

    # ingest: validate, unwrap seq and time, estimate offset and jitter, detect late and duplicates
    def _ingest(self):
        c = self.counts
        fresh = False
        while self._inbox:
            seq, t_ms, payload, arrival_ns = self._inbox.popleft()
            try:
                if not isinstance(payload, (bytes, bytearray, memoryview)) or len(payload) > MAX_PACKET:
                    raise TypeError("payload")
                seq, t_ms, arrival_ms = int(seq) % SEQ_MOD, int(t_ms) % T_MOD, int(arrival_ns) / 1e6
                payload = bytes(payload)
            except (TypeError, ValueError, OverflowError):
                c["invalid"] += 1
                continue
            if self._highest is not None:
                ext = self._highest + seq_delta(seq, self._highest_raw)
                t_unw = self._t_ref_unw + t_delta(t_ms, self._t_ref_raw)
                expected_t = self._t_ref_unw + (ext - self._highest) * FRAME_MS
                if abs(ext - self._highest) > 1500 or abs(t_unw - expected_t) > 2000:
                    # far from this stream: a stray packet, or a sender that restarted (new seq space or
                    # clock); a few such packets in a row start the stream over
                    self._foreign += 1
                    if self._foreign < self.cfg.restart_after:
                        c["invalid"] += 1
                        continue
                    self._restart_stream()
                self._foreign = 0
            if self._highest is None:
                ext, t_unw = seq + SEQ_MOD, t_ms
                self._highest, self._highest_raw, self._t_ref_raw, self._t_ref_unw = ext, seq, t_ms, t_unw
            if ext > self._highest:
                self._highest, self._highest_raw, self._t_ref_raw, self._t_ref_unw = ext, seq, t_ms, t_unw
            if ext in self._packets or ext in self._recent:
                c["duplicates"] += 1
                continue
            c["received"] += 1
            self._transits.append(arrival_ms - t_unw)
            if self._next is not None and ext < self._next:
                c["late"] += 1
                self.target_ms = min(self.cfg.max_ms, self.target_ms + self.cfg.late_boost_ms)
                continue
            self._packets[ext] = (t_unw, payload)
            fresh = True
        if fresh:
            self._update_target()

    def _update_target(self):
        cfg = self.cfg
        transits = np.fromiter(self._transits, dtype=np.float64, count=len(self._transits))
        self._offset_ms = float(transits.min())
        if transits.size < cfg.min_packets:
            return
        jitter95 = float(np.percentile(transits - self._offset_ms, 95))
        self._measured_ms = min(cfg.max_ms, max(cfg.min_ms, jitter95 + self._block_ms + cfg.margin_ms))

    def _restart_stream(self):
        self._packets.clear()
        self._recent.clear()
        self._transits.clear()
        self._next = None
        self._highest = None
        self.playing = False
        self._dry = 0

    def _tick_target(self):
        """Once per frame: jump up to the measurement, decay down towards it."""
        if self._measured_ms > self.target_ms:
            self.target_ms = self._measured_ms
        else:
            k = FRAME_MS / 1000.0 / self.cfg.shrink_tau_s
            self.target_ms += (self._measured_ms - self.target_ms) * k

    def _decode(self, ext: int) -> np.ndarray:
        _, payload = self._packets.pop(ext)
        self._recent.append(ext)
        try:
            if self.decoder.packet_samples(payload) != self.frame_size:
                raise OpusError("not a 20 ms packet")
            frame = self.decoder.decode(payload)
        except OpusError:
            self.counts["decode_errors"] += 1
            return self._conceal()
        self.counts["played"] += 1
        return frame

    def _conceal(self) -> np.ndarray:
        self.counts["concealed"] += 1
        try:
            return self.decoder.conceal(self.frame_size)
        except OpusError:
            return np.zeros(self.frame_size, dtype=np.float32)

    def _next_frame(self, t_play_ms: float) -> np.ndarray | None:
        """The 20 ms frame that starts playing at t_play_ms (local), or None while not playing."""
        cfg, c = self.cfg, self.counts
        if not self.playing:
            if not self._packets:
                return None
            first = min(self._packets)
            if self._next is not None and first > self._next:
                c["lost"] += first - self._next        # frames that never came while we were silent
            first_t = self._packets[first][0]
            if (t_play_ms - self._offset_ms) - first_t < self.target_ms:
                return None
            self._next, self._next_t = first, float(first_t)
            self.playing, self._dry, self._fade_in = True, 0, True
            self.decoder.reset()
        self._tick_target()
        k = self._next
        delay = (t_play_ms - self._offset_ms) - self._next_t
        self.depth_ms = delay
        self._since_expand += 1
        if k in self._packets:
            self._dry = 0
            self._next_t = float(self._packets[k][0])
            delay = (t_play_ms - self._offset_ms) - self._next_t
            self.depth_ms = delay
            surplus = delay - self.target_ms
            if surplus > cfg.max_ms + 100:
                return self._skip_ahead(t_play_ms)
            if surplus < -(FRAME_MS / 2 + cfg.margin_ms) and self._since_expand > 3:
                self._since_expand = 0                 # too little buffered: stretch by one concealed frame
                c["expanded"] += 1
                return self._finish(self._conceal())
            if surplus > FRAME_MS - 5 and k + 1 in self._packets:
                # merging leaves surplus - 20 > -5 ms: well above the expand threshold, so no ping-pong
                frame = self._decode(k)
                quiet = float(np.sqrt(np.mean(np.square(frame)))) < 0.01
                if quiet or surplus > 2 * FRAME_MS + 5:
                    return self._finish(self._accelerate(frame, k))
                self._advance(1)
                return self._finish(frame)
            frame = self._decode(k)
            self._advance(1)
            return self._finish(frame)
        # frame k is missing
        if self._packets:
            c["lost"] += 1
            following = self._packets.get(k + 1)
            if following is not None and packet_has_fec(following[1]):
                try:
                    frame = self.decoder.decode_fec(following[1], self.frame_size)
                    c["fec_recovered"] += 1
                except OpusError:
                    c["decode_errors"] += 1
                    frame = self._conceal()
            else:
                frame = self._conceal()
            self._advance(1)
            return self._finish(frame)
        # the buffer is dry: conceal without advancing (frame k may still come, or k+1 with its FEC);
        # the surplus delay this adds is removed later by merging frames
        if self._dry == 0:
            c["underflows"] += 1
        self._dry += 1
        frame = self._conceal()
        if self._dry >= cfg.conceal_frames:
            frame = frame * self._fade_out_ramp        # fade to silence; the next packet starts afresh
            self.playing = False
            self.depth_ms = 0.0
        return self._finish(frame)

    def _advance(self, frames: int):
        self._next += frames
        self._next_t += frames * FRAME_MS

    def _accelerate(self, frame_a: np.ndarray, k: int) -> np.ndarray:
        """Play frames k and k+1 in 20 ms: a raised-cosine cross-fade from one into the other."""
        frame_b = self._decode(k + 1)
        self._advance(2)
        self.counts["accelerated"] += 1
        return frame_a * self._fade_out_ramp + frame_b * (1.0 - self._fade_out_ramp)

    def _skip_ahead(self, t_play_ms: float) -> np.ndarray:
        """Far too much buffered (e.g. a stalled consumer): drop frames down to the target, fade in."""
        keep_from = (t_play_ms - self._offset_ms) - self.target_ms
        for ext in sorted(self._packets):
            if self._packets[ext][0] < keep_from:
                self._packets.pop(ext)
                self._recent.append(ext)
                self.counts["overflow"] += 1
        if self._packets:
            self._next = min(self._packets)
        self.playing = False
        self.decoder.reset()
        return np.zeros(self.frame_size, dtype=np.float32)

    def _finish(self, frame: np.ndarray) -> np.ndarray:
        if self._fade_in:
            frame = frame.copy()
            frame[:self._fade_in_ramp.size] *= self._fade_in_ramp
            self._fade_in = False
        return frame

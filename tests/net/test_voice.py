"""Voice sender and receiver over a simulated network: loss, jitter, reordering, duplicates, garbage.

The simulation runs on one clock in ms (sender and receiver on one machine, like loopback): the
sender captures 256-sample blocks; each packet leaves when its frame is complete and arrives after
``base_ms`` plus a uniform 0..2*jitter delay (so packets reorder), or is dropped; the receiver is pulled
once per block at the time the block is captured, so the output's lag behind the input is the
mouth-to-ear delay (minus the sound card's own buffers).
"""

import threading

import numpy as np
import pytest

from xrdemo.audio.voices import load_voices
from xrdemo.net.opus import OpusEncoder, packet_has_fec
from xrdemo.net.voice import (FRAME_MS, SEQ_MOD, T_MOD, JitterSettings, VoiceReceiver, VoiceSender,
                              level_from_rms, seq_delta, t_delta)

RATE = 48000
BLOCK = 256
CLIPS = load_voices(RATE)
SPEECH = np.concatenate([CLIPS[0], CLIPS[1]])                  # ~6 s
LONG_SPEECH = np.concatenate(CLIPS + CLIPS[:2])                  # ~17 s


def simulate(signal, loss=0.0, jitter_ms=0.0, seed=0, fec=True, block=BLOCK, base_ms=3.0, duplicate=0.0,
             t0_ms=T_MOD - 2000, tamper=None, tail_blocks=150, receiver=None, first_seq=0, stop_at_end=False):
    """Run sender -> network -> receiver; returns (output, receiver, sender, per-block stats + level).

    Duplicates (probability ``duplicate``) arrive 0..20 ms after their original, drawn from their own
    random stream, so the originals' timing is the same with and without them. ``stop_at_end``: the
    sender stops sending after ``signal`` (a talker who hangs up), else it sends the silent tail."""
    rng = np.random.default_rng(seed)
    dup_rng = np.random.default_rng(seed + 1000)
    sender = VoiceSender(RATE, fec=fec, first_seq=first_seq)
    receiver = receiver or VoiceReceiver(RATE)
    blocks = -(-len(signal) // block) + tail_blocks
    x = np.zeros(blocks * block, np.float32)
    x[:len(signal)] = signal
    out = np.zeros_like(x)
    in_flight = []
    history = []
    for i in range(blocks):
        captured_ms = i * block * 1000 / RATE
        ready_ms = captured_ms + block * 1000 / RATE
        sending = not stop_at_end or i * block < len(signal)
        for seq, t_ms, payload in (sender.push(x[i * block:(i + 1) * block], int(t0_ms + captured_ms) % T_MOD)
                                   if sending else []):
            if tamper is not None:
                payload = tamper(seq, payload, rng)
            if rng.random() >= loss:
                arrival_ms = ready_ms + base_ms + rng.uniform(0, 2 * jitter_ms)
                in_flight.append((arrival_ms, seq, t_ms, payload))
                if dup_rng.random() < duplicate:
                    in_flight.append((arrival_ms + dup_rng.uniform(0, 20), seq, t_ms, payload))
        in_flight.sort(key=lambda p: p[0])
        while in_flight and in_flight[0][0] <= ready_ms:
            arrival_ms, seq, t_ms, payload = in_flight.pop(0)
            receiver.push(seq, t_ms, payload, int(arrival_ms * 1e6))
        out[i * block:(i + 1) * block] = receiver.pull(block, int(ready_ms * 1e6))
        history.append(dict(receiver.stats, level=receiver.level))
    return out, receiver, sender, history


def aligned(reference, out, max_lag=RATE // 2):
    """(lag samples, SNR dB, correlation) of ``out`` against ``reference`` at the best single lag."""
    lag = best_lag(reference, out, 0, max_lag)
    y = out[lag:lag + len(reference)]
    x = reference[:len(y)]
    snr = 10 * np.log10(np.sum(x ** 2) / np.sum((y - x) ** 2))
    corr = np.dot(x, y) / np.sqrt(np.dot(x, x) * np.dot(y, y))
    return lag, float(snr), float(corr)


def best_lag(reference, out, lo, hi):
    """The lag in lo..hi-1 (samples) that maximises the cross-correlation of out against reference."""
    size = 1 << int(np.ceil(np.log2(len(out) + len(reference))))
    cc = np.fft.irfft(np.fft.rfft(out, size) * np.conj(np.fft.rfft(reference, size)), size)
    return lo + int(np.argmax(cc[lo:hi]))


def segment_quality(reference, out, segment_s=0.5):
    """(SNR dB, correlation) with each ``segment_s`` of the reference aligned on its own: the receiver
    changes its delay (merging or inserting frames), so one lag does not fit a whole stream. Lags are
    searched 0..300 ms; silent segments are skipped."""
    seg = int(segment_s * RATE)
    err = energy = cross = out_energy = 0.0
    for start in range(0, len(reference) - seg, seg):
        x = reference[start:start + seg]
        if np.sqrt(np.mean(x ** 2)) < 0.01:
            continue
        window = out[start:start + seg + int(0.3 * RATE)]
        lag = best_lag(x, window, 0, int(0.3 * RATE))
        y = window[lag:lag + seg]
        err += np.sum((y - x) ** 2)
        energy += np.sum(x ** 2)
        cross += np.dot(x, y)
        out_energy += np.sum(y ** 2)
    return float(10 * np.log10(energy / err)), float(cross / np.sqrt(energy * out_energy))


def max_step(x):
    return float(np.max(np.abs(np.diff(x))))


def test_wrapping_differences():
    assert seq_delta(2, SEQ_MOD - 3) == 5 and seq_delta(SEQ_MOD - 3, 2) == -5
    assert t_delta(10, T_MOD - 10) == 20 and t_delta(5, 7) == -2


def test_level_mapping():
    assert level_from_rms(0.0) == 0.0 and level_from_rms(1.0) == 1.0
    assert level_from_rms(10 ** (-36 / 20)) == pytest.approx(0.5)


def test_sender_frames_stamps_and_sequence_wrap():
    sender = VoiceSender(RATE, first_seq=SEQ_MOD - 2)
    t0 = T_MOD - 30
    packets = []
    for i in range(40):                       # 40 x 256 samples = 10 frames + 640 samples left over
        packets += sender.push(np.zeros(BLOCK, np.float32), (t0 + round(i * BLOCK * 1000 / RATE)) % T_MOD)
    assert len(packets) == 10
    assert [p[0] for p in packets] == [(SEQ_MOD - 2 + k) % SEQ_MOD for k in range(10)]
    for k, (_, t_ms, payload) in enumerate(packets):
        assert abs(t_delta(t_ms, (t0 + FRAME_MS * k) % T_MOD)) <= 1
        assert 0 < len(payload) <= 400
    assert sender.frames == 10 and sender.bytes == sum(len(p[2]) for p in packets)
    assert len(sender.push(np.zeros(320, np.float32), 0)) == 1        # 640 + 320 completes a frame


def test_clean_round_trip():
    out, rcv, snd, _ = simulate(SPEECH)
    snr, corr = segment_quality(SPEECH, out)
    assert corr > 0.85 and snr > 5.0, (corr, snr)           # the codec alone: 0.88, 6.4 dB
    s = rcv.stats
    assert s["lost"] == s["concealed"] == s["late"] == s["underflows"] == s["decode_errors"] == 0
    assert s["played"] == snd.frames - 0 or s["played"] >= len(SPEECH) // 960


@pytest.mark.parametrize("loss", [0.05, 0.20])
def test_fec_recovers_lost_packets(loss):
    """The damage done by loss, measured against the same encoder's loss-free output (so the bits FEC
    costs the main stream do not count): with FEC it is much smaller."""
    quality = {}
    for fec in (True, False):
        clean, _, _, _ = simulate(LONG_SPEECH, fec=fec)
        lossy, rcv, _, _ = simulate(LONG_SPEECH, loss=loss, seed=3, fec=fec)
        reference = clean[int(0.04 * RATE):]      # 40 ms early, so that lags stay positive
        quality[fec] = segment_quality(reference, lossy) + (rcv.stats,)
    (snr_fec, corr_fec, s), (snr_plain, corr_plain, p) = quality[True], quality[False]
    print(f"\nloss {loss:.0%}: lost {s['lost']} frames, {s['fec_recovered']} rebuilt by FEC; SNR against the "
          f"loss-free stream: FEC {snr_fec:.1f} dB, without {snr_plain:.1f} dB")
    assert s["lost"] == p["lost"] > 0.6 * loss * len(LONG_SPEECH) / 960     # same losses (same seed)
    # recoverable: the next packet arrived (1 - loss) and carries FEC (~75 % of frames: not in pauses)
    assert s["fec_recovered"] > 0.55 * (1 - loss) * s["lost"], s
    assert p["fec_recovered"] == 0                        # nothing to recover from without FEC
    assert snr_fec > snr_plain + 1.0 and corr_fec > corr_plain, (snr_fec, snr_plain, corr_fec, corr_plain)


def test_jitter_and_reordering_cause_no_underflows_after_start_up():
    out, rcv, _, history = simulate(LONG_SPEECH, jitter_ms=30.0, seed=5)
    start_up = int(1.0 * RATE / BLOCK)                    # the first second adapts the target
    after = {k: history[-1][k] - history[start_up][k] for k in ("underflows", "late", "lost", "concealed")}
    assert after == {"underflows": 0, "late": 0, "lost": 0, "concealed": 0}, after
    assert 55 <= rcv.target_ms <= 100, rcv.target_ms      # jitter p95 ~57 ms + block + margin
    snr, corr = segment_quality(LONG_SPEECH, out)
    assert corr > 0.8, corr


def test_reordering_really_happens_in_that_simulation():
    order = []

    class Spy(VoiceReceiver):
        def push(self, seq, t_ms, payload, arrival_ns):
            order.append(seq)
            super().push(seq, t_ms, payload, arrival_ns)

    simulate(SPEECH[:RATE], jitter_ms=30.0, seed=5, receiver=Spy(RATE))
    assert sum(b < a for a, b in zip(order, order[1:])) > 5


def test_target_grows_with_jitter_and_shrinks_slowly_afterwards():
    rcv = VoiceReceiver(RATE)
    sender = VoiceSender(RATE)
    rng = np.random.default_rng(1)
    targets = []
    signal = np.tile(SPEECH, 4)[: 20 * RATE]
    queue = []
    for i in range(len(signal) // BLOCK):
        now = (i + 1) * BLOCK * 1000 / RATE
        jitter = 60.0 if 3 * RATE < i * BLOCK < 8 * RATE else 0.0
        for seq, t, p in sender.push(signal[i * BLOCK:(i + 1) * BLOCK], int(i * BLOCK * 1000 / RATE)):
            queue.append((now + rng.uniform(0, 2 * jitter), seq, t, p))
        queue.sort(key=lambda q: q[0])
        while queue and queue[0][0] <= now:
            a, seq, t, p = queue.pop(0)
            rcv.push(seq, t, p, int(a * 1e6))
        rcv.pull(BLOCK, int(now * 1e6))
        targets.append(rcv.target_ms)
    at = lambda s: targets[int(s * RATE / BLOCK)]  # noqa: E731
    assert at(2.5) < 40
    assert at(7.5) > 110                           # covers ~114 ms of jitter (p95 of 0..120 ms)
    assert at(9.0) > at(12.0) > at(19.5) >= JitterSettings().min_ms   # shrinks over seconds, not at once
    assert at(12.0) > 50
    assert rcv.stats["expanded"] > 0 and rcv.stats["accelerated"] > 0   # the delay followed the target


def test_a_late_packet_is_dropped_counted_and_grows_the_target():
    sender = VoiceSender(RATE)
    packets = [p for i in range(50) for p in sender.push(SPEECH[i * 960:(i + 1) * 960], i * 20)]
    k = next(i for i in range(25, 45) if packet_has_fec(packets[i + 1][2]))     # a frame FEC can rebuild
    rcv = VoiceReceiver(RATE)
    held = packets[k]
    for i in range(50 * 960 // BLOCK):
        now = i * BLOCK * 1000 / RATE
        for seq, t, p in packets:
            if t + 20 < now <= t + 20 + BLOCK * 1000 / RATE and seq != k:
                rcv.push(seq, t, p, int(now * 1e6))
        if now > k * 20 + 200 and held is not None:        # long after frame k was rebuilt
            rcv.push(*held, int(now * 1e6))
            held = None
            before = rcv.target_ms
            rcv.pull(BLOCK, int(now * 1e6))
            assert rcv.stats["late"] == 1 and rcv.target_ms >= before + 19.0
            continue
        rcv.pull(BLOCK, int(now * 1e6))
    assert rcv.stats["lost"] == 1 and rcv.stats["fec_recovered"] == 1 and rcv.stats["underflows"] == 0


def test_stray_packets_do_not_reset_the_stream():
    out_ref, _, _, _ = simulate(SPEECH)

    class Stray(VoiceReceiver):
        def push(self, seq, t_ms, payload, arrival_ns):
            super().push(seq, t_ms, payload, arrival_ns)
            if seq % 10 == 0:                                    # a packet from nowhere
                super().push((seq + 30000) % SEQ_MOD, (t_ms + 123456) % T_MOD, payload, arrival_ns)

    out, rcv, _, _ = simulate(SPEECH, receiver=Stray(RATE))
    assert rcv.stats["invalid"] > 20 and rcv.stats["lost"] == 0
    assert np.array_equal(out, out_ref)


def test_duplicates_are_dropped_and_do_not_change_the_output():
    out_once, _, _, _ = simulate(SPEECH, jitter_ms=10.0, seed=2)
    out_dup, rcv, _, _ = simulate(SPEECH, jitter_ms=10.0, seed=2, duplicate=0.3)
    assert rcv.stats["duplicates"] > 0.2 * len(SPEECH) / 960
    assert np.array_equal(out_once, out_dup)


def test_concealment_has_no_clicks_and_fades_to_silence():
    clean, _, _, _ = simulate(SPEECH)
    lost = set(range(40, 46)) | {90, 91, 150}     # a burst, a pair, a single loss
    lost_run, rcv, _, _ = simulate(SPEECH, tamper=None, seed=0, loss=0.0,
                                   receiver=_DroppingReceiver(lost))
    assert rcv.stats["lost"] >= 9 and rcv.stats["concealed"] >= 3
    assert max_step(lost_run) <= 1.25 * max_step(clean) + 0.01
    # a talker who stops mid-word: the output fades out and then stays silent
    cut = int(1.3 * RATE)
    out, rcv, _, _ = simulate(SPEECH[:cut], tail_blocks=100, stop_at_end=True)
    assert np.sqrt(np.mean(SPEECH[cut - 960:cut] ** 2)) > 0.02          # it really is mid-speech
    assert max_step(out) <= 1.25 * max_step(clean) + 0.01
    assert np.all(out[-10 * BLOCK:] == 0.0)
    last = np.nonzero(out)[0][-1]                  # the concealment fades out: no step into the silence
    assert np.max(np.abs(out[last - RATE // 200:last + 1])) < 0.005 and abs(out[last]) < 1e-4
    assert rcv.stats["underflows"] == 1 and rcv.level < 0.05


class _DroppingReceiver(VoiceReceiver):
    """Drops the given sequence numbers on arrival (deterministic losses)."""

    def __init__(self, lost):
        super().__init__(RATE)
        self.lost = lost

    def push(self, seq, t_ms, payload, arrival_ns):
        if seq not in self.lost:
            super().push(seq, t_ms, payload, arrival_ns)


def test_garbage_payloads_are_counted_and_concealed_never_raised():
    def tamper(seq, payload, rng):
        if seq % 7 == 3:
            return rng.bytes(int(rng.integers(0, 60)))
        if seq % 11 == 5:
            return payload[: len(payload) // 3]
        return payload

    out, rcv, _, _ = simulate(SPEECH, tamper=tamper, seed=4)
    s = rcv.stats
    assert s["decode_errors"] > 0 and np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
    rcv.push(None, "x", object(), 0)
    rcv.push(1.5e30, 3, b"", -1)
    rcv.pull(BLOCK, 10 ** 12)
    assert rcv.stats["invalid"] >= 1


def test_any_pull_size_gives_the_same_stream():
    out_ref, _, _, _ = simulate(SPEECH)
    for block in (100, 441, 1024):
        out, rcv, _, _ = simulate(SPEECH, block=block)
        snr, corr = segment_quality(SPEECH, out)
        assert corr > 0.85 and rcv.stats["underflows"] == 0, (block, corr, rcv.stats)
        # the playout delay grows with the block (the target covers one pull), not more
        assert rcv.target_ms < 20 + 1000 * block / RATE + 15, (block, rcv.target_ms)


def test_end_to_end_delay_with_an_impulse_train():
    """Clicks every 250 ms through sender, a 3 ms network and the receiver: the delay is the 20 ms frame
    plus the codec look-ahead (6.5 ms) plus the network plus the playout depth (start 40 ms, then the
    measured target)."""
    period = RATE // 4
    clicks = np.zeros(12 * RATE, np.float32)
    clicks[RATE // 10::period] = 0.8
    clicks[RATE // 10 + 1::period] = -0.8
    out, rcv, _, history = simulate(clicks, base_ms=3.0)
    delays = []
    for start in range(RATE // 10, len(clicks) - period, period):
        window = np.abs(out[start:start + period])
        delays.append(np.argmax(window) / RATE * 1000)
    delays = np.array(delays)
    lookahead_ms = OpusEncoder().lookahead / RATE * 1000
    steady = delays[-12:]                          # the last 3 s: the target has settled near 20 ms
    depth = np.mean([h["depth_ms"] for h in history[len(history) // 2:]])
    expected = FRAME_MS + lookahead_ms + 3.0 + depth
    print(f"\nend-to-end delay: first {delays[0]:.1f} ms, steady {steady.mean():.1f} ms "
          f"(min {steady.min():.1f}, max {steady.max():.1f}); depth {depth:.1f} ms, target {rcv.target_ms:.1f} ms")
    assert np.ptp(steady) < 6.0                    # stable (one pull block)
    assert abs(steady.mean() - expected) < 12.0, (steady.mean(), expected)
    assert delays[0] < 100.0 and steady.mean() < 65.0


def test_level_follows_speech_and_silence():
    signal = np.concatenate([np.zeros(RATE // 2, np.float32), SPEECH[:2 * RATE], np.zeros(RATE, np.float32)])
    _, rcv, _, history = simulate(signal, tail_blocks=0)
    level = np.array([h["level"] for h in history])
    at = lambda s: int(s * RATE / BLOCK)  # noqa: E731
    assert level[: at(0.4)].max() < 0.05                     # nothing yet
    assert level[at(0.6):at(2.5)].max() > 0.6 and np.mean(level[at(0.6):at(2.5)]) > 0.3
    assert level[-at(0.3):].max() < 0.05 and rcv.level < 0.05


def test_a_restarted_sender_is_picked_up_again():
    rcv = VoiceReceiver(RATE)
    simulate(SPEECH[:RATE], receiver=rcv, tail_blocks=20, first_seq=40000)
    played = rcv.stats["played"]
    out, rcv, _, _ = simulate(SPEECH[:RATE], receiver=rcv, tail_blocks=20, first_seq=7, t0_ms=5000)
    assert rcv.stats["played"] - played > 40
    assert np.sqrt(np.mean(out[: RATE] ** 2)) > 0.02


def test_push_from_another_thread_while_pulling():
    sender = VoiceSender(RATE)
    packets = [p for i in range(len(SPEECH) // 960) for p in sender.push(SPEECH[i * 960:(i + 1) * 960], i * 20)]
    rcv = VoiceReceiver(RATE)
    clock = {"ms": 0.0}

    def network():
        for seq, t, p in packets:
            rcv.push(seq, t, p, int(t * 1e6 + 1e6))

    thread = threading.Thread(target=network)
    thread.start()
    out = []
    for i in range(len(SPEECH) // BLOCK + 50):
        clock["ms"] = i * BLOCK * 1000 / RATE
        out.append(rcv.pull(BLOCK, int(clock["ms"] * 1e6)))
    thread.join()
    s = rcv.stats
    assert s["received"] == len(packets) and s["duplicates"] == 0 and s["invalid"] == 0
    assert s["played"] + s["late"] + s["overflow"] == len(packets)

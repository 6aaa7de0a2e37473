"""Jitter buffer for one remote person's poses: sender clock mapping, adaptive delay, smooth playout.

A sender stamps each pose with ``t_ms`` (its own monotonic clock, uint32 milliseconds, wrapping);
``PoseBuffer.push`` takes it with the local arrival time, ``PoseBuffer.at(display_ns)`` returns
the pose to show at a local display time:

- clock offset: the minimum of (arrival - sent) over a sliding window, so network jitter only adds
  delay and never moves the clock estimate forward;
- playout delay: the window's p95 of (arrival - sent - offset) plus the packet interval plus a
  margin, bounded 30..250 ms; the applied delay slews slowly (time stretches a little, never jumps);
- playout at (display - offset - delay): interpolate the two samples around it (lerp positions and
  joints, slerp rotations); past the newest sample extrapolate with a damped velocity for at most
  ``extrapolate_ms``, then hold; ``stale_ms`` after the last packet, return None ("stale": hide);
- any discontinuity (a late sample replacing an extrapolation, a new packet after a hold) is
  absorbed by a correction offset that decays with ``smoothing_ms``, so the output never pops;
- a hand that becomes untracked keeps its last shown joints (hand_valid False: the caller fades it).

Pure numpy + stdlib: time is always an argument (int nanoseconds, or sender milliseconds).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from .posecodec import PoseSample

STATUSES = ("interpolating", "extrapolating", "holding", "stale")

_WRAP = 1 << 32
_HALF = 1 << 31
_MS = 1_000_000


@dataclass
class PoseBufferConfig:
    """Tuning of a PoseBuffer (milliseconds unless noted)."""

    min_delay_ms: float = 30.0        # playout delay bounds
    max_delay_ms: float = 250.0
    initial_delay_ms: float = 80.0    # before any jitter has been measured
    margin_ms: float = 5.0            # added to jitter p95 + packet interval
    jitter_quantile: float = 0.95
    window: int = 256                 # packets in the offset / jitter window (~4 s at 60 Hz)
    slew: float = 0.05                # delay change per unit of elapsed time, when growing/shrinking
    extrapolate_ms: float = 100.0     # longest extrapolation past the newest sample, then hold
    damping_ms: float = 200.0         # extrapolated velocity decays with this time constant
    stale_ms: float = 1000.0          # no packet for this long: "stale" (hide the avatar)
    smoothing_ms: float = 80.0        # time constant of the correction after a discontinuity
    capacity: int = 64                # samples kept (oldest dropped)
    reset_ms: float = 5000.0          # a sample this far from the stream's clock restarts it


@dataclass
class PoseBufferStats:
    """Counters and the current playout state of one PoseBuffer."""

    delay_ms: float = 0.0             # applied playout delay (beyond the minimum transit time)
    target_delay_ms: float = 0.0      # where the delay is heading
    jitter_ms: float = 0.0            # p95 of the transit time above its minimum
    interval_ms: float = 0.0          # the sender's sample interval (estimated)
    received: int = 0
    late: int = 0                     # arrived after their time was already played out (dropped)
    duplicates: int = 0               # same t_ms twice (dropped)
    resets: int = 0                   # the sender's clock jumped or the stream went stale: restart
    buffered: int = 0


# Single quaternions (x, y, z, w) as plain tuples: numpy's per-call cost dominates at this size.

def _qmul(a, b):
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def _qconj(q):
    return (-q[0], -q[1], -q[2], q[3])


def _qpow(q, k: float):
    """The rotation q scaled by k (k times its angle about its axis, the short way round)."""
    x, y, z, w = q
    if w < 0.0:
        x, y, z, w = -x, -y, -z, -w
    s = math.sqrt(x * x + y * y + z * z)
    if s < 1e-12:
        return (0.0, 0.0, 0.0, 1.0)
    half = k * math.atan2(s, w)
    f = math.sin(half) / s
    return (x * f, y * f, z * f, math.cos(half))


def _qnormalize(q):
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    return np.array([q[0] / n, q[1] / n, q[2] / n, q[3] / n])


def _lerp_hands(a: PoseSample, b: PoseSample, k: float, base: PoseSample) -> np.ndarray:
    """base.joints + k * (b.joints - a.joints) for hands tracked in both a and b; base's elsewhere."""
    both = np.asarray(a.hand_valid, bool) & np.asarray(b.hand_valid, bool)
    if both.all():
        return base.joints + k * (b.joints - a.joints)
    joints = np.array(base.joints, np.float64, copy=True)
    joints[both] += k * (np.asarray(b.joints)[both] - np.asarray(a.joints)[both])
    return joints


def _blend_face(a: PoseSample, b: PoseSample, u: float) -> dict:
    """Gaze (normalised lerp), vergence and face weights (lerp) between a and b when both carry
    them; otherwise the nearer sample's (None stays None: the receiver infers them)."""
    near = a if u < 0.5 else b
    out = {"gaze": near.gaze, "vergence_deg": near.vergence_deg, "face": near.face}
    if a.gaze is not None and b.gaze is not None:
        g = a.gaze + u * (b.gaze - a.gaze)
        n = float(np.linalg.norm(g))
        out["gaze"] = g / n if n > 1e-9 else near.gaze
        out["vergence_deg"] = a.vergence_deg + u * (b.vergence_deg - a.vergence_deg)
    if a.face is not None and b.face is not None:
        out["face"] = (a.face + np.float32(u) * (b.face - a.face)).astype(np.float32)
    return out


def interpolate(a: PoseSample, b: PoseSample, u: float) -> PoseSample:
    """Pose between a (u=0) and b (u=1): lerp positions, joints and level, slerp the head rotation.

    A hand is interpolated when tracked in both; otherwise it takes a's joints and validity (the
    caller holds and fades hands that are not valid).
    """
    qa = a.head_rot.tolist()
    turn = _qpow(_qmul(b.head_rot.tolist(), _qconj(qa)), u)
    return PoseSample(head_pos=a.head_pos + u * (b.head_pos - a.head_pos),
                      head_rot=_qnormalize(_qmul(turn, qa)),
                      joints=_lerp_hands(a, b, u, a), hand_valid=np.array(a.hand_valid, bool),
                      level=a.level + u * (b.level - a.level), whisper=a.whisper,
                      **_blend_face(a, b, u))


def extrapolate(a: PoseSample, b: PoseSample, dt_ab_s: float, ahead_s: float) -> PoseSample:
    """Pose `ahead_s` seconds of (already damped) motion after b, at the velocity from a to b.

    dt_ab_s: seconds from a to b (> 0). Positions and tracked joints move linearly, the head turns
    at the a->b angular velocity; level, whisper, gaze and face stay b's.
    """
    k = ahead_s / dt_ab_s
    qb = b.head_rot.tolist()
    turn = _qpow(_qmul(qb, _qconj(a.head_rot.tolist())), k)           # k times the a -> b turn
    return PoseSample(head_pos=b.head_pos + k * (b.head_pos - a.head_pos),
                      head_rot=_qnormalize(_qmul(turn, qb)),
                      joints=_lerp_hands(a, b, k, b), hand_valid=np.array(b.hand_valid, bool),
                      level=b.level, whisper=b.whisper, gaze=b.gaze, vergence_deg=b.vergence_deg,
                      face=b.face)


class PoseBuffer:
    """Playout buffer for one remote person (see the module docstring). Not thread-safe: push and
    at() from one thread (or behind the caller's lock)."""

    def __init__(self, config: PoseBufferConfig | None = None):
        self.config = config or PoseBufferConfig()
        self._counters = PoseBufferStats()
        self._reset_stream()

    # --- input -------------------------------------------------------------------------------------

    def _reset_stream(self) -> None:
        c = self.config
        self._times: list[int] = []               # unwrapped sender ms, sorted
        self._samples: list[PoseSample] = []
        self._newest_raw: int | None = None       # newest sample's unwrapped ms
        self._last_arrival: int | None = None
        self._transit = np.zeros(c.window)        # arrival - sent, ns (ring buffer)
        self._transit_n = 0
        self._intervals: deque[int] = deque(maxlen=32)
        self._offset_ns = 0.0
        self._jitter_ns = 0.0
        self._target_delay_ns = c.initial_delay_ms * _MS
        self._delay_ns: float | None = None       # applied; None until the first at()
        self._played_ms: float | None = None      # sender time last played out
        self._prev: tuple[int, float, PoseSample] | None = None   # (display_ns, sender ms, output)
        self._prev_raw: PoseSample | None = None  # the uncorrected pose of that frame
        self._changed = True                      # samples changed since the last at()
        self._held = np.zeros((2, 26, 3))

    def _unwrap(self, t_ms: int) -> int:
        t = int(t_ms) % _WRAP
        if self._newest_raw is None:
            return t
        d = (t - self._newest_raw) % _WRAP
        if d >= _HALF:
            d -= _WRAP
        return self._newest_raw + d

    def push(self, sample: PoseSample, t_ms: int, arrival_ns: int) -> bool:
        """Add a received pose stamped t_ms (sender clock, uint32 ms) that arrived at arrival_ns
        (local clock). Returns False when it was dropped (duplicate or too late to be shown)."""
        c = self.config
        st = self._counters
        st.received += 1
        arrival_ns = int(arrival_ns)
        if self._last_arrival is not None and arrival_ns - self._last_arrival > c.stale_ms * _MS:
            st.resets += 1
            self._reset_stream()
        t = self._unwrap(t_ms)
        transit = arrival_ns - t * _MS
        if self._transit_n and abs(transit - (self._offset_ns + self._jitter_ns)) > c.reset_ms * _MS:
            st.resets += 1                        # the sender restarted its clock
            self._reset_stream()
            t = self._unwrap(t_ms)
            transit = arrival_ns - t * _MS
        self._last_arrival = arrival_ns if self._last_arrival is None else max(self._last_arrival, arrival_ns)
        i = bisect.bisect_left(self._times, t)
        if i < len(self._times) and self._times[i] == t:
            st.duplicates += 1
            return False
        self._note_transit(transit)
        if self._played_ms is not None and t <= self._played_ms:
            st.late += 1
            return False
        if i > 0:
            self._intervals.append(t - self._times[i - 1])
        if self._newest_raw is None or t > self._newest_raw:
            self._newest_raw = t
        self._times.insert(i, t)
        self._samples.insert(i, sample)
        self._changed = True
        if len(self._times) > c.capacity:
            del self._times[0], self._samples[0]
        return True

    def _note_transit(self, transit_ns: int) -> None:
        c = self.config
        self._transit[self._transit_n % c.window] = transit_ns
        self._transit_n += 1
        seen = self._transit[:min(self._transit_n, c.window)]
        self._offset_ns = float(seen.min())
        if len(seen) >= 8:
            above = seen - self._offset_ns
            k = min(len(above) - 1, int(math.ceil(c.jitter_quantile * len(above))) - 1)
            self._jitter_ns = float(np.partition(above, k)[k])
            interval = self._interval_ms() * _MS
            target = self._jitter_ns + interval + c.margin_ms * _MS
            self._target_delay_ns = min(max(target, c.min_delay_ms * _MS), c.max_delay_ms * _MS)

    def _interval_ms(self) -> float:
        """The sender's sample interval: a low quantile of the gaps between each new sample and the
        one before it in sender time (loss only makes gaps longer)."""
        if not self._intervals:
            return 0.0
        return float(sorted(self._intervals)[len(self._intervals) // 4])

    # --- output ------------------------------------------------------------------------------------

    @property
    def stats(self) -> PoseBufferStats:
        s = replace(self._counters)
        s.delay_ms = (self._delay_ns if self._delay_ns is not None else self._target_delay_ns) / _MS
        s.target_delay_ms = self._target_delay_ns / _MS
        s.jitter_ms = self._jitter_ns / _MS
        s.interval_ms = self._interval_ms()
        s.buffered = len(self._times)
        return s

    def at(self, display_ns: int):
        """(PoseSample | None, status) to show at local time display_ns; status in STATUSES.

        None only when "stale" (nothing received, or nothing for stale_ms): hide the avatar.
        """
        c = self.config
        display_ns = int(display_ns)
        if not self._times or display_ns - self._last_arrival > c.stale_ms * _MS:
            self._prev = None
            return None, "stale"
        prev = self._prev
        if self._delay_ns is None or prev is None:
            self._delay_ns = self._target_delay_ns
        else:
            elapsed = max(display_ns - prev[0], 0)
            step = c.slew * elapsed
            self._delay_ns += min(max(self._target_delay_ns - self._delay_ns, -step), step)
        s_ms = (display_ns - self._offset_ns - self._delay_ns) / _MS
        raw, status = self._raw(s_ms)
        out = _copy(raw)
        if prev is not None and display_ns > prev[0]:
            # where the new data puts the previous frame (unchanged data: where it was)
            before = self._raw(prev[1])[0] if self._changed or self._prev_raw is None else self._prev_raw
            out = _apply_correction(out, prev[2], before,
                                    math.exp(-(display_ns - prev[0]) / (c.smoothing_ms * _MS)))
        self._prev_raw = raw
        self._changed = False
        valid = np.asarray(out.hand_valid, bool)
        self._held[valid] = out.joints[valid]
        out.joints[~valid] = self._held[~valid]
        self._prev = (display_ns, s_ms, out)
        self._played_ms = s_ms if self._played_ms is None else max(self._played_ms, s_ms)
        self._prune(s_ms)
        return out, status

    def _raw(self, s_ms: float):
        """Uncorrected pose at sender time s_ms and its status."""
        c = self.config
        times, samples = self._times, self._samples
        i = bisect.bisect_right(times, s_ms)
        if i == 0:
            return _copy(samples[0]), "holding"
        if i < len(times):
            t0, t1 = times[i - 1], times[i]
            return interpolate(samples[i - 1], samples[i], (s_ms - t0) / (t1 - t0)), "interpolating"
        ahead = s_ms - times[-1]
        if len(times) < 2 or ahead <= 0:
            return _copy(samples[-1]), "holding" if ahead > 0 else "interpolating"
        dt_ab = times[-1] - times[-2]
        if dt_ab > c.extrapolate_ms * 2:          # too far apart to trust a velocity
            return _copy(samples[-1]), "holding"
        tau = c.damping_ms
        damped = tau * (1.0 - math.exp(-min(ahead, c.extrapolate_ms) / tau))
        status = "extrapolating" if ahead <= c.extrapolate_ms else "holding"
        return extrapolate(samples[-2], samples[-1], dt_ab / 1000.0, damped / 1000.0), status

    def _prune(self, s_ms: float) -> None:
        """Drop samples no longer needed: keep two at or before the playout time."""
        i = bisect.bisect_right(self._times, s_ms)
        drop = max(i - 2, 0)
        if drop:
            del self._times[:drop], self._samples[:drop]


def _copy(s: PoseSample) -> PoseSample:
    return PoseSample(np.array(s.head_pos, np.float64), np.array(s.head_rot, np.float64),
                      np.array(s.joints, np.float64), np.array(s.hand_valid, bool), s.level, s.whisper,
                      None if s.gaze is None else np.array(s.gaze, np.float64), s.vergence_deg,
                      None if s.face is None else np.array(s.face, np.float32))


def _apply_correction(raw: PoseSample, prev_out: PoseSample, prev_raw: PoseSample, keep: float) -> PoseSample:
    """raw plus `keep` (0..1) of the gap between the previous output and the new data's view of the
    previous frame. Hands are corrected only when tracked in all three (a reappearing hand snaps)."""
    raw.head_pos = raw.head_pos + keep * (prev_out.head_pos - prev_raw.head_pos)
    gap = _qmul(prev_out.head_rot.tolist(), _qconj(prev_raw.head_rot.tolist()))
    raw.head_rot = _qnormalize(_qmul(_qpow(gap, keep), raw.head_rot.tolist()))
    hands = (np.asarray(raw.hand_valid, bool) & np.asarray(prev_out.hand_valid, bool)
             & np.asarray(prev_raw.hand_valid, bool))
    if hands.all():
        raw.joints = raw.joints + keep * (prev_out.joints - prev_raw.joints)
    elif hands.any():
        raw.joints[hands] += keep * (prev_out.joints[hands] - prev_raw.joints[hands])
    return raw

"""Fair shares and bounds for the meeting server: token buckets per member and kind, and the
server-wide limits (connections, rooms, members).

A real client sends at most 60 pose updates a second (``NetMeeting`` banks at most 1.5 updates),
50 voice frames (one per 20 ms; a stalled audio thread can bunch a few), one keepalive and one
ping a second, and a profile when the hand shape changes. The buckets below allow well over that
(``RATES``), so an honest client never meets them; whatever a member sends beyond its bucket is
dropped before the server spends any work on forwarding it, and counted by member and reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; ``take(now_s)`` spends one if there is one.

    now_s: a monotonic time in seconds (passed in, so tests can drive it). Starts full.
    """

    __slots__ = ("rate", "burst", "tokens", "last")

    def __init__(self, rate: float, burst: float, now_s: float = 0.0):
        if not (rate > 0 and burst >= 1 and math.isfinite(rate) and math.isfinite(burst)):
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate, self.burst = float(rate), float(burst)
        self.tokens, self.last = float(burst), now_s

    def _refill(self, now_s: float) -> None:
        if now_s > self.last:
            self.tokens = min(self.burst, self.tokens + (now_s - self.last) * self.rate)
            self.last = now_s

    def take(self, now_s: float) -> bool:
        self._refill(now_s)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def ready(self, now_s: float) -> bool:
        """True when a token is there (none is spent)."""
        self._refill(now_s)
        return self.tokens >= 1.0

    def wait_s(self, now_s: float) -> float:
        """Seconds until one token is there (0 when one is there now)."""
        self._refill(now_s)
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


# kind -> (tokens per second, burst). Datagram kinds by name; "control" counts every control
# message (pings, profiles, rebinds); "profile" profile changes on top of that.
RATES = {
    "pose": (90.0, 45.0),         # 60 Hz at most from NetMeeting, 1.5 banked
    "voice": (75.0, 150.0),       # 50 frames a second; up to 3 s of them may bunch after a stall
    "whisper": (75.0, 150.0),     # voice for one partner (sent instead of voice while whispering)
    "sealed_pose": (90.0, 45.0),  # private rooms: poses and voice sealed by their sender, sent
    "sealed_voice": (75.0, 150.0),  # instead of the plain ones (same shares)
    "keepalive": (5.0, 10.0),     # one a second
    "probe": (8.0, 8.0),          # address checks: sent to a new address / answered by the client
    "control": (20.0, 40.0),      # one ping a second, a profile now and then
    "profile": (0.5, 4.0),        # a new hand shape: rare; each costs a broadcast of up to 8 KiB
}


def buckets(now_s: float, rates: dict | None = None) -> dict:
    """A fresh set of buckets for one member: kind name -> TokenBucket."""
    return {kind: TokenBucket(rate, burst, now_s) for kind, (rate, burst) in (rates or RATES).items()}


@dataclass(frozen=True)
class ServerLimits:
    """Bounds on what one server accepts (each refusal has its own ``error`` code).

    per_address: open control connections from one IP address; connections: open control
    connections in all; rooms: rooms at once; fd_reserve: file handles kept free (below it new
    connections are refused, ``busy``). Members per room is the room's capacity.
    """
    per_address: int = 64
    connections: int = 2000
    rooms: int = 500
    fd_reserve: int = 64

    def __post_init__(self):
        for name in ("per_address", "connections", "rooms"):
            if getattr(self, name) < 1:
                raise ValueError(f"limit {name} must be at least 1, got {getattr(self, name)}")

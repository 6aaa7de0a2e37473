"""A networked meeting in the loop: the room's people into every step, this person's pose out,
and a reseat when the room moves us (``RoomPart``); a headless participant's voice (``BotVoice``).
"""

from __future__ import annotations

import numpy as np

from ..net.room_link import RoomLink, display_time_on_monotonic
from .frame_loop import FramePart

BOT_TALK_S, BOT_PAUSE_S = 3.0, 3.0


class RoomPart(FramePart):
    """The link to the room around each step. ``source`` (meetings.MeetingSource) rebuilds the
    meeting when the room moves us to another seat (a reconnect found ours taken).

    now_ns(tick): the time on this machine's monotonic clock the remote people are wanted for
    (default: the frame's display time mapped onto the monotonic clock). level(tick): this
    person's speech level sent with the pose (default: the microphone level in the inputs)."""

    def __init__(self, net, source, log=print, now_ns=None, level=None, rejoin=None):
        self.net, self.source, self.log = net, source, log
        self.link = RoomLink(net, log=log)
        self.loop = None
        self.rejoin_with = rejoin
        """rejoin(want_seat) -> a connected NetMeeting for the same room (None: no rejoining)."""
        self.left = False
        self.whisper_to: int | None = None
        """A whisper asked for with the menu or B (the nearest neighbour), else None: leaning decides."""
        self.now_ns = now_ns or (lambda tick: display_time_on_monotonic(
            tick.frame.predicted_display_time_ns, tick.frame.predicted_display_period_ns))
        self.level = level or (lambda tick: (tick.inputs.mic_level or 0.0) if tick.inputs is not None else 0.0)

    def on_meeting(self, loop, state) -> None:
        self.loop = loop
        self.link.reset()

    # --- leaving, rejoining, changing seat (the menu's LEAVE and SEAT_NEXT) ----------------------
    def leave(self) -> None:
        """Leave the room but keep the session: the others are gone until ``rejoin``."""
        if not self.left:
            self.net.close()
            self.left = True
            self.log("network: you left the room (N or the menu's next seat rejoins; L again quits)")

    def rejoin(self, want_seat: int | None = None) -> bool:
        """Join the room again (in want_seat, else the lowest free one): after leaving, or to
        change seat. The meeting is rebuilt in the new seat. False when it could not."""
        if self.rejoin_with is None:
            return False
        if not self.left:
            self.net.close()
        try:
            net = self.rejoin_with(want_seat)
        except (ConnectionError, OSError, ValueError) as exc:
            self.log(f"network: could not rejoin ({exc})")
            self.left = True
            return False
        self.net, self.left = net, False
        self.link = RoomLink(net, log=self.log)
        self.source.room = net
        self.loop.rebuild(self.source.build())
        return True

    def toggle_whisper(self, state) -> int | None:
        """Whisper to the nearest neighbour present (the menu's whisper button, B), or stop.
        Returns the partner's seat, or None when stopped (or nobody is there)."""
        if self.whisper_to is not None:
            self.whisper_to = None
            return None
        k = state.local
        present = state.people.present if state.people.present is not None else np.ones(len(state.seat_pos), bool)
        d = np.linalg.norm(state.seat_pos - state.seat_pos[k], axis=1)
        d[~present] = np.inf
        d[k] = np.inf
        j = int(np.argmin(d))
        self.whisper_to = j if np.isfinite(d[j]) else None
        return self.whisper_to

    def next_free_seat(self) -> int | None:
        """The next free seat after this person's, going round the table (None: all taken)."""
        present = self.net.present() if not self.left else np.zeros(self.net.capacity, bool)
        n = len(present)
        for step in range(1, n):
            k = (self.net.seat + step) % n
            if not present[k]:
                return k
        return None

    def connection_text(self) -> str:
        """For the status line: "connected, 12 ms", "reconnecting (...)…" or "left"."""
        if self.left:
            return "left the room"
        client = self.net.client
        if not client.connected:
            return "reconnecting (the server stopped answering)\u2026"
        rtt = client.stats.get("rtt_ms")
        text = "connected" + (f", {rtt:.0f} ms" if isinstance(rtt, (int, float)) else "")
        loss = getattr(self.net, "pose_loss", 0.0)
        return text + (f", {100 * loss:.0f} % lost" if loss >= 0.005 else "")

    def on_inputs(self, tick) -> None:
        if self.left:                         # nobody else until we rejoin
            from ..core import scene as S

            tick.inputs.remote = S.RemoteInput.empty(len(tick.state.people))
            only_me = np.zeros(len(tick.state.people), bool)
            only_me[tick.state.local] = True
            if tick.state.people.present is None or not np.array_equal(tick.state.people.present, only_me):
                S.set_present(tick.state, only_me)
            return
        now = self.now_ns(tick)
        tick.inputs.remote = self.link.before_step(tick.state, now)
        if self.link.reseated(tick.state):
            self.log(f"network: the room moved you from seat {tick.state.local} to seat {self.net.seat}")
            self.loop.rebuild(self.source.build())
            tick.state = self.loop.driver.state
            tick.inputs.remote = self.link.before_step(tick.state, now)

    def on_step(self, tick) -> None:
        if self.left:
            return
        self.link.after_step(tick.state, self.level(tick), now_ns=self.now_ns(tick))
        self._choose_whisper_partner(tick.state)

    def _choose_whisper_partner(self, state) -> None:
        """Whom this person leans toward, from their own head and the fixed seats only
        (net.whisper_pair): their voice then goes to that person alone, encrypted, while the
        other chose them too — nobody else can redirect or suppress it."""
        from ..net.whisper_pair import choose_partner

        k = state.local
        if not 0 <= k < len(state.seat_pos):
            return
        present = state.people.present if state.people.present is not None else np.ones(len(state.seat_pos), bool)
        client = self.net.client
        before = client.whisper_partner
        if self.whisper_to is not None and present[self.whisper_to]:
            partner = self.whisper_to
        else:
            self.whisper_to = None
            partner = choose_partner(state.people.head_pos[k], state.seat_pos, k, present, current=before)
        if partner != before:
            client.whisper_partner = partner
            if partner is not None:
                self.log(f"network: whispering to {state.people.names[partner]} (only they hear you)")
            else:
                self.log("network: whisper over; the room hears you again")

    def close(self, error) -> None:
        self.net.close()


class BotVoice:
    """A headless participant's voice: a built-in clip spoken in turns (talk, pause), sent as
    20 ms Opus frames in real time. ``level`` is its current speech level 0..1."""

    def __init__(self, seat: int, sample_rate: int = 48000):
        from ..audio.voices import load_voices

        clips = load_voices(sample_rate)
        self.clip = clips[seat % len(clips)]
        self.rate = sample_rate
        self.phase = (seat % 2) * BOT_TALK_S          # neighbours take turns
        self.sent = 0                                 # samples produced
        self.t0_ns = None
        self.level = 0.0

    def due(self, now_ns: int) -> tuple[np.ndarray, int]:
        """The samples from the last call up to now_ns, and the wire time of the first one."""
        if self.t0_ns is None:
            self.t0_ns = now_ns
        end = int((now_ns - self.t0_ns) * self.rate // 1_000_000_000)
        n = max(end - self.sent, 0)
        idx = self.sent + np.arange(n)
        t = idx / self.rate + self.phase
        talking = (t % (BOT_TALK_S + BOT_PAUSE_S)) < BOT_TALK_S
        x = np.where(talking, self.clip[idx % len(self.clip)], 0.0).astype(np.float32)
        t_ms = ((self.t0_ns + self.sent * 1_000_000_000 // self.rate) // 1_000_000) & 0xFFFFFFFF
        self.sent = end
        if n:
            rms = float(np.sqrt(np.mean(x * x)))
            self.level = float(np.clip((20 * np.log10(max(rms, 1e-6)) + 55.0) / 40.0, 0.0, 1.0))
        return x, t_ms


class BotVoicePart(FramePart):
    """Speaks the BotVoice into the room every frame (before the remote people are read)."""

    def __init__(self, net, sample_rate: int):
        self.net = net
        self.bot = BotVoice(net.seat, sample_rate)

    def on_frame(self, tick) -> None:
        import time

        mono, t_ms = self.bot.due(time.monotonic_ns())
        self.net.send_voice(mono, t_ms)

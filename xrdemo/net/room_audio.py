"""Voices of a networked room, as the spatial audio engine wants them: mono blocks at the seats.

``RemoteVoices`` has the interface of ``audio.meeting.MeetingVoices`` (``next_block(speaking)
-> ((N, block) float32, (level (N,), active (N,)))``) but plays what arrives over the network:
one ``voice.VoiceReceiver`` (jitter buffer, Opus decoding, FEC, concealment) per seat. Received
frames come in through ``push`` (any thread).

The live audio runs in a process of its own (``audio/realtime.py``). Voice frames reach it over
a loopback UDP socket: the app's network thread calls ``VoiceForwarder.send`` (never blocks; a
full socket buffer drops the frame, which the jitter buffer conceals like any network loss), and
the audio process's ``InboxVoices`` drains its socket at the start of every block.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import numpy as np

from ..audio.voices import VoiceActivity
from .voice import VoiceReceiver

_FORWARD = struct.Struct(">BHIQ")      # seat, seq, t_ms, arrival_ns; then the Opus payload
MAX_FORWARD = 2048


class RemoteVoices:
    """Remote people's voices for a room of ``n`` seats (the local seat is never played)."""

    def __init__(self, n: int, sample_rate: int = 48000, block: int = 256, local: int = -1,
                 clock=time.monotonic_ns):
        self.n, self.sample_rate, self.block, self.local = n, sample_rate, block, local
        self.clock = clock
        self.receivers: dict[int, VoiceReceiver] = {}
        self.activity = VoiceActivity(n, block / sample_rate)
        self.out = np.zeros((n, block), np.float32)
        self._lock = threading.Lock()
        self.dropped = 0

    def push(self, seat: int, seq: int, t_ms: int, payload: bytes, arrival_ns: int) -> None:
        """A received Opus frame from the person in ``seat`` (frames for unknown seats are dropped)."""
        if not 0 <= seat < self.n or seat == self.local:
            self.dropped += 1
            return
        with self._lock:
            rx = self.receivers.get(seat)
            if rx is None:
                rx = self.receivers[seat] = VoiceReceiver(self.sample_rate)
        rx.push(seq, t_ms, payload, arrival_ns)

    def forget(self, seat: int) -> None:
        """Someone left: drop their jitter buffer (a newcomer in that seat starts afresh)."""
        with self._lock:
            self.receivers.pop(seat, None)

    def next_block(self, speaking=None, now_ns: int | None = None):
        """The next block of every seat's voice (speaking is ignored: what arrives is played)."""
        now_ns = self.clock() if now_ns is None else now_ns
        out = self.out
        out[:] = 0.0
        with self._lock:
            items = list(self.receivers.items())
        for seat, rx in items:
            out[seat] = rx.pull(self.block, now_ns)
        level, active = self.activity.update(out)
        return out, (level, active)

    def stats(self) -> dict:
        """Summed receiver statistics (lost, concealed, FEC recovered, late, underflows...)."""
        total: dict = {"dropped_unknown_seat": self.dropped}
        for rx in list(self.receivers.values()):
            for key, value in rx.stats.items():
                if isinstance(value, (int, float)):
                    total[key] = total.get(key, 0) + value
        return total


class InboxVoices(RemoteVoices):
    """RemoteVoices fed through a loopback UDP socket (inside the audio process)."""

    def __init__(self, n: int, sample_rate: int = 48000, block: int = 256, local: int = -1):
        super().__init__(n, sample_rate, block, local)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.bad = 0

    def drain(self) -> int:
        """Take every waiting frame (never blocks). Returns how many."""
        count = 0
        while True:
            try:
                data = self.sock.recv(MAX_FORWARD)
            except (BlockingIOError, InterruptedError):
                return count
            except OSError:
                return count
            if len(data) <= _FORWARD.size:
                self.bad += 1
                continue
            seat, seq, t_ms, arrival_ns = _FORWARD.unpack_from(data)
            self.push(seat, seq, t_ms, data[_FORWARD.size:], arrival_ns)
            count += 1

    def next_block(self, speaking=None, now_ns: int | None = None):
        self.drain()
        return super().next_block(speaking, now_ns)

    def close(self) -> None:
        self.sock.close()


class VoiceForwarder:
    """App side: hands received voice frames to the audio process's InboxVoices on ``port``."""

    def __init__(self, port: int):
        self.addr = ("127.0.0.1", int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.dropped = 0

    def send(self, seat: int, seq: int, t_ms: int, payload: bytes, arrival_ns: int) -> None:
        if len(payload) + _FORWARD.size > MAX_FORWARD:
            self.dropped += 1
            return
        try:
            self.sock.sendto(_FORWARD.pack(seat & 0xFF, seq & 0xFFFF, t_ms & 0xFFFFFFFF, arrival_ns)
                             + payload, self.addr)
        except OSError:                     # buffer full or the audio process gone: a lost frame
            self.dropped += 1

    def close(self) -> None:
        self.sock.close()

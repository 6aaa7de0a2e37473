"""Sender keys for private rooms: poses and voices end-to-end encrypted, the server routing
ciphertext it cannot read.

In a private room (``xrdemo serve --private-rooms``) every member makes a random 32-byte
*sender key* for what it sends, with a random 32-bit key id, and gives it to each other member
in a *box*: the key id and key encrypted (ChaCha20-Poly1305) under the pair key the two of them
derive from their signed session X25519 keys (``identity.Ephemeral.pair_keys``, the same
derivation as private whispers, with ``BOX_CONTEXT`` added to the room so the two uses never
share a key). The server relays boxes (a ``sender_key`` control message) and cannot open them.

A datagram's payload is then sealed under its sender's current key:

    key id u32 | counter u64 | ChaCha20-Poly1305(payload)        (28 bytes more than plain)

The nonce is the 12 bytes key id | counter (a counter never repeats under one key: each key is
new and counts from 1). The associated data is the 8-byte header the *server* puts on the
forwarded datagram (sealed kind, the sender's seat, seq, t_ms) and the 12-byte head, so a
receiver accepts a payload only as sent by the seat whose key opens it, with that seq and
time: another member cannot pass its datagram off as someone else's (the server stamps the seat
of the session that sent it), and a payload re-sent with a new seq or by another seat fails.

A member makes a new key whenever someone joins (the newcomer cannot read what came before)
and whenever someone leaves (the leaver cannot read what comes after), and on each (re)join of
its own. Receivers keep the last ``KEPT_PER_SEAT`` keys of each seat (datagrams sealed just
before a change are still read) and forget a seat's keys when it leaves.

Pure crypto and bookkeeping here (no sockets, no clocks); ``client.NetClient`` drives it.
Thread-safe: ``seal`` runs on the app's sending threads, the rest on the network thread.
"""

from __future__ import annotations

import collections
import secrets
import struct
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from . import protocol as proto

BOX_CONTEXT = b"/sender-key"       # appended to the room name in the pair-key derivation
BOX_AD = b"xrdemo sender key v1"
KEY_BYTES = 32
BOX_BYTES = 12 + 4 + KEY_BYTES + 16   # nonce | sealed (key id | key) | tag
KEPT_PER_SEAT = 2                  # a seat's current key and the one before it
_HEAD = struct.Struct(">IQ")       # key id, counter


class SenderKeys:
    """This member's own sender key and the keys others gave it (see the module docstring)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._own_id = 0
        self._own: ChaCha20Poly1305 | None = None
        self._own_key = b""
        self._counter = 0
        self._theirs: dict[int, collections.OrderedDict] = {}   # seat -> key id -> AEAD
        self.rekeys = 0

    # --- own key ---------------------------------------------------------------------------
    def new_key(self) -> tuple[int, bytes]:
        """Make a new own sender key; returns (key id, key) to put in boxes."""
        key = secrets.token_bytes(KEY_BYTES)
        key_id = secrets.randbits(32)
        with self._lock:
            self._own_id, self._own_key, self._own = key_id, key, ChaCha20Poly1305(key)
            self._counter = 0
            self.rekeys += 1
        return key_id, key

    @property
    def own(self) -> tuple[int, bytes]:
        """(key id, key) of the current own key ((0, b"") before the first)."""
        with self._lock:
            return self._own_id, self._own_key

    def seal(self, sealed_kind: int, seat: int, seq: int, t_ms: int, payload: bytes) -> bytes | None:
        """A sealed payload for a datagram of sealed_kind sent from seat (None before a key)."""
        with self._lock:
            aead = self._own
            if aead is None:
                return None
            self._counter += 1
            head = _HEAD.pack(self._own_id, self._counter)
        ad = proto.server_header(sealed_kind, seat, seq, t_ms) + head
        return head + aead.encrypt(head, bytes(payload), ad)

    # --- boxes -----------------------------------------------------------------------------
    @staticmethod
    def box(pair_send_key: bytes, key_id: int, key: bytes, from_seat: int, to_seat: int) -> bytes:
        """key id and key sealed for one member under the pair key (send direction)."""
        nonce = secrets.token_bytes(12)
        return nonce + ChaCha20Poly1305(pair_send_key).encrypt(
            nonce, struct.pack(">I", key_id) + key, BOX_AD + bytes([from_seat, to_seat]))

    def accept_box(self, pair_recv_key: bytes, box: bytes, from_seat: int, to_seat: int) -> int | None:
        """Open a box from from_seat (receive direction of the pair key) and keep its key; the
        key id, or None when the box does not open (not for us, damaged, forged)."""
        if len(box) != BOX_BYTES:
            return None
        try:
            plain = ChaCha20Poly1305(pair_recv_key).decrypt(box[:12], box[12:], BOX_AD + bytes([from_seat, to_seat]))
        except InvalidTag:
            return None
        key_id = struct.unpack(">I", plain[:4])[0]
        with self._lock:
            keys = self._theirs.setdefault(from_seat, collections.OrderedDict())
            keys[key_id] = ChaCha20Poly1305(plain[4:])
            keys.move_to_end(key_id)
            while len(keys) > KEPT_PER_SEAT:
                keys.popitem(last=False)
        return key_id

    def forget(self, seat: int) -> None:
        """Seat left (or changed hands): its keys are dropped."""
        with self._lock:
            self._theirs.pop(seat, None)

    def forget_all(self) -> None:
        with self._lock:
            self._theirs.clear()

    def key_ids(self, seat: int) -> list[int]:
        with self._lock:
            return list(self._theirs.get(seat, ()))

    # --- receiving -------------------------------------------------------------------------
    def open(self, sealed_kind: int, seat: int, seq: int, t_ms: int, payload: bytes) -> bytes | str:
        """The plain payload of a sealed datagram from seat, or a reason it was not opened:
        "short", "no_key" (no key of that id from that seat: not given yet, or never) or
        "bad" (the AEAD check failed: forged, altered, or replayed under another seq/seat)."""
        if len(payload) < proto.SEALED_HEAD + proto.WHISPER_TAG:
            return "short"
        head = payload[:proto.SEALED_HEAD]
        key_id = _HEAD.unpack(head)[0]
        with self._lock:
            aead = self._theirs.get(seat, {}).get(key_id)
        if aead is None:
            return "no_key"
        try:
            return aead.decrypt(head, payload[proto.SEALED_HEAD:],
                                proto.server_header(sealed_kind, seat, seq, t_ms) + head)
        except InvalidTag:
            return "bad"


def open_with(key: bytes, sealed_kind: int, seat: int, seq: int, t_ms: int, payload: bytes) -> bytes | None:
    """Open one sealed payload with a given sender key (tests, tools); None when it does not open."""
    head = payload[:proto.SEALED_HEAD]
    try:
        return ChaCha20Poly1305(key).decrypt(head, payload[proto.SEALED_HEAD:],
                                             proto.server_header(sealed_kind, seat, seq, t_ms) + head)
    except (InvalidTag, ValueError):
        return None

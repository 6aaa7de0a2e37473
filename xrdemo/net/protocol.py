"""The meeting wire protocol: control messages (TCP, framed JSON) and real-time datagrams (UDP).

Pure functions and constants only (no sockets, no clocks); the server (``server.py``) and the
client transport (``client.py``) both use them, and the fuzz tests call them directly.

Control channel (TCP): each message is a 4-byte big-endian length, then that many bytes of UTF-8
JSON holding one object with a string ``type`` (at most ``MAX_CONTROL`` bytes). The server speaks
first: a ``challenge`` (32 random bytes) that the client's ``hello`` signs (``identity.py``).

Real-time datagrams (UDP), big-endian, one header then an opaque payload:

- client -> server, 10 bytes (``CLIENT_HEADER``)::

      kind u8 | session u24 | seq u16 | t_ms u32 | payload

  ``session``: the 24-bit token from ``welcome`` (6 hex digits there), so kind and token share
  one u32. The server also checks the datagram's source address (see ``server.py``).
- server -> client, 8 bytes (``SERVER_HEADER``)::

      kind u8 | seat u8 | seq u16 | t_ms u32 | payload

  the sender's seat instead of the token.

Every datagram ends with an 8-byte MAC (``MAC_BYTES``): keyed BLAKE2b over header + payload
under the session key of its direction (``datagram_mac``; the keys come from the signed join,
see ``identity.py`` and docs/identity.md). A pose is 10 + 80 + 8 = 98 bytes client -> server and
8 + 80 + 8 = 96 bytes server -> client; with gaze and the 20 expression weights (posecodec
format 2) 10 + 96 + 8 = 114 and 112. The server re-authenticates what it forwards with each
recipient's key.

``kind``: 1 pose, 2 voice, 3 keepalive (never forwarded; the server echoes it to its sender),
4 probe (a source address's check: the server sends a random 16-byte nonce to an address it has
not bound for the session; the client sends it back from there, under its MAC, and only then
does that address become the session's), 5 whisper (``target u8 | counter u64 | ciphertext``:
an Opus frame encrypted for the member in seat ``target`` alone; the server forwards it to that
member only and never records it), 6 sealed pose and 7 sealed voice (private rooms,
``key id u32 | counter u64 | ciphertext``: a pose or voice payload encrypted under its sender's
sender key, ``sender_keys.py``; forwarded to every other member like 1 and 2, unreadable to the
server).
``seq`` counts the sender's datagrams of that kind (uint16, wraps). ``t_ms`` is the sender's
monotonic clock in milliseconds (uint32, wraps; compare with ``ms_diff``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
from dataclasses import dataclass

PROTOCOL_VERSION = 2                # 2: signed joins and datagram MACs (identity.py)
DEFAULT_PORT = 4733
URL_SCHEME = "xrdemo://"

# Control channel limits.
MAX_CONTROL = 16 * 1024             # bytes of JSON in one control message
MAX_PROFILE = 8 * 1024              # bytes of a profile object, as compact JSON
MAX_NAME = 64                       # characters of a display name
MAX_HOST = 253                      # characters of a host name (DNS)
MAX_SEATS = 32                      # the largest room capacity (seats fit in the u8 of the header)
MAX_SENDER_BOX = 128                # base64 characters of one sealed sender key (sender_keys.py)
ROOM_RE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
CLIENT_ID_RE = re.compile(r"[0-9a-fA-F]{8,64}")

# Datagram kinds and limits.
KIND_POSE = 1
KIND_VOICE = 2
KIND_KEEPALIVE = 3
KIND_PROBE = 4                      # address check: server -> client a nonce, client -> server it back
KIND_WHISPER = 5                    # voice for one partner only, end-to-end encrypted (identity.py)
KIND_SEALED_POSE = 6                # private rooms: a pose sealed under its sender's sender key
KIND_SEALED_VOICE = 7               # private rooms: a voice frame sealed likewise (sender_keys.py)
KIND_NAMES = {KIND_POSE: "pose", KIND_VOICE: "voice", KIND_KEEPALIVE: "keepalive", KIND_PROBE: "probe",
              KIND_WHISPER: "whisper", KIND_SEALED_POSE: "sealed_pose", KIND_SEALED_VOICE: "sealed_voice"}
SEALED_OF = {KIND_POSE: KIND_SEALED_POSE, KIND_VOICE: KIND_SEALED_VOICE}   # plain kind -> sealed kind
PLAIN_OF = {v: k for k, v in SEALED_OF.items()}
SEALED_HEAD = 12                    # sealed payload: key id u32 | counter u64 | ciphertext + tag
PROBE_BYTES = 16
WHISPER_HEAD = 9                    # whisper payload: target seat u8 | counter u64 | ciphertext
WHISPER_TAG = 16                    # ChaCha20-Poly1305 tag
MAX_PAYLOAD = {KIND_POSE: 128, KIND_VOICE: 400, KIND_KEEPALIVE: 0, KIND_PROBE: PROBE_BYTES,
               KIND_WHISPER: WHISPER_HEAD + 400 + WHISPER_TAG,
               KIND_SEALED_POSE: SEALED_HEAD + 128 + WHISPER_TAG,
               KIND_SEALED_VOICE: SEALED_HEAD + 400 + WHISPER_TAG}   # payload bytes per kind
MAC_BYTES = 8                       # the MAC ending every datagram
SESSION_BITS = 24
SESSION_MASK = (1 << SESSION_BITS) - 1

_CLIENT = struct.Struct(">IHI")      # (kind << 24 | session), seq, t_ms
_SERVER = struct.Struct(">BBHI")     # kind, seat, seq, t_ms
_LENGTH = struct.Struct(">I")
CLIENT_HEADER = _CLIENT.size         # 10
SERVER_HEADER = _SERVER.size         # 8


class ProtocolError(ValueError):
    """A malformed message or datagram. ``reason`` is a short code, used to count drops."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# --- time --------------------------------------------------------------------------------------
def ms_diff(a: int, b: int) -> int:
    """a - b for uint32 millisecond stamps that wrap, as a signed int in [-2**31, 2**31)."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


# --- join address ------------------------------------------------------------------------------
def parse_join_url(url: str) -> tuple[str, int, str]:
    """``[xrdemo://]HOST[:PORT]/ROOM`` -> (host, port, room); port 4733 when omitted.

    HOST may be a name, an IPv4 address or a bracketed IPv6 address (``[::1]:4733/room``).
    Raises ValueError naming what is wrong.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("empty join address: expected HOST[:PORT]/ROOM, e.g. 192.168.1.20:4733/team")
    text = url.strip()
    if text.lower().startswith(URL_SCHEME):
        text = text[len(URL_SCHEME):]
    elif "://" in text:
        raise ValueError(f"join address {url!r}: only the xrdemo:// and nats:// schemes are understood")
    where, slash, room = text.partition("/")
    if not slash or not room:
        raise ValueError(f"join address {url!r} has no room: expected HOST[:PORT]/ROOM")
    room = room.rstrip("/")
    if not ROOM_RE.fullmatch(room):
        raise ValueError(f"join address {url!r}: room {room!r} must be 1-64 characters of "
                         "letters, digits, '_', '-' and '.'")
    port_text = ""
    if where.startswith("["):
        host, bracket, rest = where[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"join address {url!r}: bad IPv6 host (use [addr]:port)")
        port_text = rest[1:] if rest else ""
        if rest and not port_text:
            raise ValueError(f"join address {url!r}: empty port after ':'")
    else:
        host, colon, port_text = where.partition(":")
        if colon and not port_text:
            raise ValueError(f"join address {url!r}: empty port after ':'")
        if ":" in port_text:
            raise ValueError(f"join address {url!r}: an IPv6 host needs brackets: [addr]:port/room")
    if not host:
        raise ValueError(f"join address {url!r} has no host: expected HOST[:PORT]/ROOM")
    if len(host) > MAX_HOST:
        raise ValueError(f"join address: the host name is {len(host)} characters long "
                         f"(at most {MAX_HOST}): {host[:40]}...")
    if not re.fullmatch(r"[A-Za-z0-9.\-_:%]+", host):
        raise ValueError(f"join address {url!r}: bad host name {host!r}")
    port = DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"join address {url!r}: port {port_text!r} must be a number 1-65535")
        port = int(port_text)
    return host, port, room


NATS_SCHEME = "nats://"
NATS_DEFAULT_PORT = 4222
_NATS_HOST_RE = re.compile(r"(?:[^@/\s]+@)?(?:\[[0-9A-Fa-f:.%]+\]|[A-Za-z0-9.\-_]+)(?::[0-9]{1,5})?")


def is_nats_url(url) -> bool:
    """True for a ``nats://...`` join address (a room carried over NATS, see ``nats_transport``)."""
    return isinstance(url, str) and url.strip().lower().startswith(NATS_SCHEME)


def parse_nats_url(url: str, need_room: bool = True) -> tuple[list[str], str]:
    """``nats://[USER:PASS@]HOST[:PORT][,HOST2[:PORT]...]/ROOM`` -> (NATS server URLs, room).

    Port 4222 when omitted; several comma-separated hosts are nodes of one NATS cluster (the
    client fails over between them). need_room=False accepts a URL without ``/ROOM`` (the room
    is then ""), as ``xrdemo serve --nats`` takes. Raises ValueError naming what is wrong.
    """
    if not is_nats_url(url):
        raise ValueError(f"NATS address {url!r} must start with nats://")
    text = url.strip()[len(NATS_SCHEME):]
    where, slash, room = text.partition("/")
    room = room.rstrip("/")
    if need_room and not room:
        raise ValueError(f"join address {url!r} has no room: expected nats://HOST[:PORT]/ROOM")
    if room and not ROOM_RE.fullmatch(room):
        raise ValueError(f"join address {url!r}: room {room!r} must be 1-64 characters of "
                         "letters, digits, '_', '-' and '.'")
    servers = []
    for part in where.split(","):
        part = part.strip()
        if len(part.rpartition("@")[2]) > MAX_HOST + 6:
            raise ValueError(f"NATS address: a host of {len(part)} characters is too long "
                             f"(at most {MAX_HOST}): {part[:40]}...")
        if not part or not _NATS_HOST_RE.fullmatch(part):
            raise ValueError(f"NATS address {url!r}: bad host {part!r} (expected HOST[:PORT])")
        hostport = part.rpartition("@")[2]
        if hostport.startswith("["):
            port_text = hostport.rpartition("]")[2].lstrip(":")
        else:
            port_text = hostport.partition(":")[2]
        if port_text and not 1 <= int(port_text) <= 65535:
            raise ValueError(f"NATS address {url!r}: port {port_text} must be 1-65535")
        servers.append(NATS_SCHEME + (part if port_text else f"{part}:{NATS_DEFAULT_PORT}"))
    return servers, room


def redact_nats_url(url: str) -> str:
    """A NATS URL fit to print: ``nats://user:secret@host`` -> ``nats://user:***@host``."""
    return re.sub(r"(nats://[^:@/,\s]+):[^@/,\s]*@", r"\1:***@", url)


def check_join_url(url: str) -> str:
    """Validate a join address of either kind (ValueError if bad); returns "nats" or "udp"."""
    if is_nats_url(url):
        parse_nats_url(url)
        return "nats"
    parse_join_url(url)
    return "udp"


# --- control messages --------------------------------------------------------------------------
def encode_message(msg: dict) -> bytes:
    """One control message -> length-prefixed compact JSON bytes (ValueError when too long)."""
    body = json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(body) > MAX_CONTROL:
        raise ValueError(f"control message of {len(body)} bytes exceeds {MAX_CONTROL}")
    return _LENGTH.pack(len(body)) + body


def frame_length(header: bytes) -> int:
    """The body length from a 4-byte frame header; ProtocolError unless 1..MAX_CONTROL."""
    if len(header) != 4:
        raise ProtocolError("bad_length", "truncated frame header")
    (n,) = _LENGTH.unpack(header)
    if not 1 <= n <= MAX_CONTROL:
        raise ProtocolError("bad_length", f"frame length {n} outside 1..{MAX_CONTROL}")
    return n


def decode_body(body: bytes) -> dict:
    """A frame body -> JSON object with a string ``type``; ProtocolError otherwise."""
    try:
        msg = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError("bad_json", f"not UTF-8 JSON: {type(exc).__name__}") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise ProtocolError("bad_message", "a control message must be a JSON object with a string 'type'")
    return msg


class FrameReader:
    """Splits a TCP byte stream into control messages: ``feed(data) -> list[dict]``.

    Raises ProtocolError on the first bad frame (the caller then closes the connection).
    """

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[dict]:
        self._buf += data
        out = []
        while len(self._buf) >= 4:
            n = frame_length(bytes(self._buf[:4]))
            if len(self._buf) < 4 + n:
                break
            body = bytes(self._buf[4:4 + n])
            del self._buf[:4 + n]
            out.append(decode_body(body))
        return out


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def profile_size(profile) -> int:
    """Bytes of a profile as compact JSON (what MAX_PROFILE limits)."""
    return len(json.dumps(profile, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _check_profile(profile) -> dict:
    if profile is None:
        return {}
    if not isinstance(profile, dict):
        raise ProtocolError("bad_message", "profile must be a JSON object")
    if profile_size(profile) > MAX_PROFILE:
        raise ProtocolError("bad_message", f"profile larger than {MAX_PROFILE} bytes")
    return profile


@dataclass(frozen=True)
class Hello:
    """A validated ``hello`` (client -> server)."""
    room: str
    name: str
    client_id: str
    want_seat: int | None
    profile: dict
    udp_port: int | None
    key: bytes = b""                 # the Ed25519 identity public key (32 bytes)
    eph: bytes = b""                 # the ephemeral X25519 public key of this session (32 bytes)
    sig: bytes = b""                 # Ed25519 signature of identity.join_statement(...) (64 bytes)


def _b64_field(msg: dict, field_name: str, size: int) -> bytes:
    from .identity import unb64

    try:
        return unb64(msg.get(field_name), size)
    except ValueError:
        raise ProtocolError("bad_message", f"{field_name} must be base64 of {size} bytes") from None


def validate_client_message(msg: dict):
    """Check a client -> server message. Returns a ``Hello`` for hello, else the message itself.

    Types: hello, ping, leave, profile, rebind, sender_key (private rooms: ``boxes``, an object
    seat (as text) -> base64 of a sender key sealed for that seat). ProtocolError (reason ``bad_message``,
    ``unknown_type`` or ``version``) otherwise.
    """
    kind = msg.get("type")
    if kind == "hello":
        v = msg.get("v")
        if v != PROTOCOL_VERSION:
            raise ProtocolError("version", f"protocol version {v!r} not supported (server speaks "
                                           f"{PROTOCOL_VERSION}); update xrdemo on one side")
        room, name, cid = msg.get("room"), msg.get("name"), msg.get("client_id")
        if not isinstance(room, str) or not ROOM_RE.fullmatch(room):
            raise ProtocolError("bad_message", "room must be 1-64 characters of [A-Za-z0-9_.-]")
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME or not name.isprintable():
            raise ProtocolError("bad_message", f"name must be 1-{MAX_NAME} printable characters")
        if not isinstance(cid, str) or not CLIENT_ID_RE.fullmatch(cid):
            raise ProtocolError("bad_message", "client_id must be 8-64 hex digits")
        want = msg.get("want_seat")
        if want is not None and not (_is_int(want) and 0 <= want < MAX_SEATS):
            raise ProtocolError("bad_message", f"want_seat must be null or an int 0..{MAX_SEATS - 1}")
        udp_port = msg.get("udp_port")
        if udp_port is not None and not (_is_int(udp_port) and 0 <= udp_port <= 65535):
            raise ProtocolError("bad_message", "udp_port must be null or an int 0..65535")
        return Hello(room, name, cid.lower(), want, _check_profile(msg.get("profile")), udp_port,
                     key=_b64_field(msg, "key", 32), eph=_b64_field(msg, "eph", 32),
                     sig=_b64_field(msg, "sig", 64))
    if kind in ("ping", "leave", "rebind"):
        return msg
    if kind == "sender_key":
        boxes = msg.get("boxes")
        if not isinstance(boxes, dict) or len(boxes) > MAX_SEATS or not all(
                isinstance(k, str) and k.isdigit() and int(k) < MAX_SEATS and isinstance(v, str)
                and len(v) <= MAX_SENDER_BOX for k, v in boxes.items()):
            raise ProtocolError("bad_message", "sender_key needs boxes: {seat: base64 text}")
        return msg
    if kind == "profile":
        _check_profile(msg.get("profile"))
        if msg.get("profile") is None:
            raise ProtocolError("bad_message", "profile message without a profile object")
        return msg
    raise ProtocolError("unknown_type", f"unknown message type {kind!r}")


# --- datagrams ---------------------------------------------------------------------------------
def datagram_mac(key: bytes, body: bytes) -> bytes:
    """The MAC_BYTES tag of a datagram body (header + payload): keyed BLAKE2b."""
    return hashlib.blake2b(body, key=key, digest_size=MAC_BYTES).digest()


def seal(key: bytes, body: bytes) -> bytes:
    """body + its MAC: what goes on the wire."""
    return body + hashlib.blake2b(body, key=key, digest_size=MAC_BYTES).digest()


def split_mac(data: bytes) -> tuple[bytes, bytes]:
    """A received datagram -> (body, tag); ProtocolError ``short`` when there is no room for a MAC."""
    if len(data) < MAC_BYTES:
        raise ProtocolError("short", f"datagram of {len(data)} bytes has no MAC")
    return data[:-MAC_BYTES], data[-MAC_BYTES:]


def mac_ok(key: bytes, body: bytes, tag: bytes) -> bool:
    """True when tag is body's MAC under key (constant-time comparison)."""
    return hmac.compare_digest(datagram_mac(key, body), tag)


def pack_client_datagram(kind: int, session: int, seq: int, t_ms: int, payload: bytes = b"") -> bytes:
    """Client -> server datagram: 10-byte header + payload (no length check here)."""
    return _CLIENT.pack((kind << 24) | (session & SESSION_MASK), seq & 0xFFFF, t_ms & 0xFFFFFFFF) + payload


def parse_client_datagram(data: bytes) -> tuple[int, int, int, int, bytes]:
    """Client -> server datagram -> (kind, session, seq, t_ms, payload).

    ProtocolError with reason ``short``, ``bad_kind`` or ``too_long`` (payload over the kind's
    limit); the session is not checked here.
    """
    if len(data) < CLIENT_HEADER:
        raise ProtocolError("short", f"datagram of {len(data)} bytes is shorter than the header")
    word, seq, t_ms = _CLIENT.unpack_from(data)
    kind = word >> 24
    limit = MAX_PAYLOAD.get(kind)
    if limit is None:
        raise ProtocolError("bad_kind", f"unknown datagram kind {kind}")
    if len(data) - CLIENT_HEADER > limit:
        raise ProtocolError("too_long", f"{KIND_NAMES[kind]} payload of {len(data) - CLIENT_HEADER} "
                                        f"bytes exceeds {limit}")
    return kind, word & SESSION_MASK, seq, t_ms, bytes(data[CLIENT_HEADER:])


def server_header(kind: int, seat: int, seq: int, t_ms: int) -> bytes:
    """The 8-byte server -> client header."""
    return _SERVER.pack(kind, seat, seq & 0xFFFF, t_ms & 0xFFFFFFFF)


def pack_server_datagram(kind: int, seat: int, seq: int, t_ms: int, payload: bytes = b"") -> bytes:
    return server_header(kind, seat, seq, t_ms) + payload


def parse_server_datagram(data: bytes) -> tuple[int, int, int, int, bytes]:
    """Server -> client datagram -> (kind, seat, seq, t_ms, payload); ProtocolError if malformed."""
    if len(data) < SERVER_HEADER:
        raise ProtocolError("short", f"datagram of {len(data)} bytes is shorter than the header")
    kind, seat, seq, t_ms = _SERVER.unpack_from(data)
    limit = MAX_PAYLOAD.get(kind)
    if limit is None:
        raise ProtocolError("bad_kind", f"unknown datagram kind {kind}")
    if len(data) - SERVER_HEADER > limit:
        raise ProtocolError("too_long", f"payload of {len(data) - SERVER_HEADER} bytes exceeds {limit}")
    if seat >= MAX_SEATS:
        raise ProtocolError("bad_seat", f"seat {seat} out of range")
    return kind, seat, seq, t_ms, bytes(data[SERVER_HEADER:])

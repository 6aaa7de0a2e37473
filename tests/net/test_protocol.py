"""The wire protocol's pure parts: join addresses, control framing and validation, datagram headers."""

import base64
import json
import struct

import pytest

from xrdemo.net import protocol as proto


# --- join addresses ---------------------------------------------------------------------------
@pytest.mark.parametrize("url, expected", [
    ("example.org:5000/team", ("example.org", 5000, "team")),
    ("example.org/team", ("example.org", proto.DEFAULT_PORT, "team")),
    ("xrdemo://10.0.0.2:4800/Room_1.a-b", ("10.0.0.2", 4800, "Room_1.a-b")),
    ("XRDEMO://host/r/", ("host", proto.DEFAULT_PORT, "r")),
    ("[::1]:4734/r", ("::1", 4734, "r")),
    ("[fe80::1]/r", ("fe80::1", proto.DEFAULT_PORT, "r")),
    ("  localhost:1/x  ", ("localhost", 1, "x")),
])
def test_parse_join_url_accepts(url, expected):
    assert proto.parse_join_url(url) == expected


@pytest.mark.parametrize("url, words", [
    ("", "empty"),
    ("host:4733", "no room"),
    ("host:4733/", "no room"),
    (":4733/room", "no host"),
    ("host:/room", "empty port"),
    ("host:0/room", "port"),
    ("host:70000/room", "port"),
    ("host:abc/room", "port"),
    ("host/bad room", "room"),
    ("host/" + "r" * 65, "room"),
    ("http://host/room", "scheme"),
    ("::1:4733/room", "brackets"),
    ("[::1/room", "IPv6"),
    ("ho st/room", "host"),
])
def test_parse_join_url_rejects_with_a_clear_message(url, words):
    with pytest.raises(ValueError) as exc:
        proto.parse_join_url(url)
    assert words in str(exc.value)


# --- control messages -------------------------------------------------------------------------
def _hello(**over):
    msg = {"type": "hello", "v": proto.PROTOCOL_VERSION, "room": "r", "name": "Ann", "client_id": "0123abcd",
           "want_seat": None, "profile": {"shape": "AAAA"}, "udp_port": 5000,
           "key": base64.b64encode(b"k" * 32).decode(), "eph": base64.b64encode(b"e" * 32).decode(),
           "sig": base64.b64encode(b"s" * 64).decode()}
    msg.update(over)
    return msg


def test_encode_then_frame_reader_round_trips_in_any_chunking():
    msgs = [_hello(), {"type": "ping"}, {"type": "profile", "profile": {"x": "é" * 10}}]
    stream = b"".join(proto.encode_message(m) for m in msgs)
    for step in (1, 3, 7, len(stream)):
        reader = proto.FrameReader()
        got = []
        for i in range(0, len(stream), step):
            got += reader.feed(stream[i:i + step])
        assert got == msgs


def test_encode_message_refuses_oversize():
    with pytest.raises(ValueError):
        proto.encode_message({"type": "x", "pad": "a" * proto.MAX_CONTROL})


@pytest.mark.parametrize("frame, reason", [
    (struct.pack(">I", 0), "bad_length"),
    (struct.pack(">I", proto.MAX_CONTROL + 1), "bad_length"),
    (struct.pack(">I", 3) + b"\xff\xfe{", "bad_json"),
    (struct.pack(">I", 5) + b"[1,2]", "bad_message"),
    (struct.pack(">I", 11) + b'{"type": 3}', "bad_message"),
    (struct.pack(">I", 4) + b"nope", "bad_json"),
])
def test_frame_reader_rejects_bad_frames(frame, reason):
    with pytest.raises(proto.ProtocolError) as exc:
        proto.FrameReader().feed(frame)
    assert exc.value.reason == reason
    assert isinstance(exc.value, ValueError)


def test_deeply_nested_json_is_a_protocol_error_not_a_crash():
    body = b"[" * 10000 + b"]" * 10000
    with pytest.raises(proto.ProtocolError):
        proto.FrameReader().feed(struct.pack(">I", len(body)) + body)


def test_valid_hello_is_parsed():
    h = proto.validate_client_message(_hello(want_seat=3, client_id="ABCDEF0123"))
    assert h == proto.Hello("r", "Ann", "abcdef0123", 3, {"shape": "AAAA"}, 5000,
                        key=b"k" * 32, eph=b"e" * 32, sig=b"s" * 64)
    assert proto.validate_client_message(_hello(profile=None, udp_port=None)).profile == {}


@pytest.mark.parametrize("over, reason", [
    ({"v": 1}, "version"),           # protocol 1 had no signed joins
    ({"v": 3}, "version"),
    ({"key": None}, "bad_message"),
    ({"key": "AAAA"}, "bad_message"),   # 3 bytes, not 32
    ({"eph": "not base64!"}, "bad_message"),
    ({"sig": base64.b64encode(b"s" * 63).decode()}, "bad_message"),
    ({"v": None}, "version"),
    ({"room": "a b"}, "bad_message"),
    ({"room": ""}, "bad_message"),
    ({"room": 5}, "bad_message"),
    ({"name": ""}, "bad_message"),
    ({"name": "x" * 65}, "bad_message"),
    ({"name": "a\nb"}, "bad_message"),
    ({"client_id": "xyz"}, "bad_message"),
    ({"client_id": "abc"}, "bad_message"),
    ({"want_seat": -1}, "bad_message"),
    ({"want_seat": True}, "bad_message"),
    ({"want_seat": 1.5}, "bad_message"),
    ({"want_seat": proto.MAX_SEATS}, "bad_message"),
    ({"udp_port": 70000}, "bad_message"),
    ({"udp_port": "5000"}, "bad_message"),
    ({"profile": [1]}, "bad_message"),
    ({"profile": {"s": "a" * proto.MAX_PROFILE}}, "bad_message"),
])
def test_bad_hello_is_rejected_with_a_reason(over, reason):
    with pytest.raises(proto.ProtocolError) as exc:
        proto.validate_client_message(_hello(**over))
    assert exc.value.reason == reason


def test_other_client_messages():
    for kind in ("ping", "leave", "rebind"):
        assert proto.validate_client_message({"type": kind})["type"] == kind
    assert proto.validate_client_message({"type": "profile", "profile": {"a": 1}})
    for msg, reason in [({"type": "profile"}, "bad_message"),
                        ({"type": "profile", "profile": "x"}, "bad_message"),
                        ({"type": "welcome"}, "unknown_type"),
                        ({"type": "PING"}, "unknown_type")]:
        with pytest.raises(proto.ProtocolError) as exc:
            proto.validate_client_message(msg)
        assert exc.value.reason == reason


def test_profile_limit_counts_utf8_bytes():
    ok = {"s": "a" * (proto.MAX_PROFILE - 10)}
    assert proto.profile_size(ok) <= proto.MAX_PROFILE
    assert proto.validate_client_message({"type": "profile", "profile": ok})
    wide = {"s": "é" * (proto.MAX_PROFILE // 2)}          # 2 bytes per character in UTF-8
    with pytest.raises(proto.ProtocolError):
        proto.validate_client_message({"type": "profile", "profile": wide})
    assert len(json.dumps(wide)) > 0


# --- datagrams --------------------------------------------------------------------------------
def test_header_sizes():
    assert proto.CLIENT_HEADER == 10
    assert proto.SERVER_HEADER == 8
    assert len(proto.pack_client_datagram(proto.KIND_POSE, 1, 2, 3, b"abc")) == 13
    assert len(proto.pack_server_datagram(proto.KIND_POSE, 1, 2, 3, b"abc")) == 11


def test_client_datagram_round_trip_and_wrapping():
    pkt = proto.pack_client_datagram(proto.KIND_VOICE, 0xABCDEF, 70000, 2**32 + 5, b"opus")
    assert proto.parse_client_datagram(pkt) == (proto.KIND_VOICE, 0xABCDEF, 70000 - 65536, 5, b"opus")
    # the session is 24 bits: higher bits never leak into the kind
    pkt = proto.pack_client_datagram(proto.KIND_POSE, 0xFFFFFFFF, 0, 0)
    assert proto.parse_client_datagram(pkt)[:2] == (proto.KIND_POSE, 0xFFFFFF)


def test_server_datagram_round_trip():
    pkt = proto.pack_server_datagram(proto.KIND_POSE, 7, 65535, 2**32 - 1, b"p" * 128)
    assert proto.parse_server_datagram(pkt) == (proto.KIND_POSE, 7, 65535, 2**32 - 1, b"p" * 128)


@pytest.mark.parametrize("kind, payload_len, reason", [
    (proto.KIND_POSE, 129, "too_long"),
    (proto.KIND_VOICE, 401, "too_long"),
    (proto.KIND_KEEPALIVE, 1, "too_long"),
    (0, 0, "bad_kind"),
    (proto.KIND_PROBE, 17, "too_long"),
    (max(proto.KIND_NAMES) + 1, 0, "bad_kind"),
    (proto.KIND_WHISPER, proto.MAX_PAYLOAD[proto.KIND_WHISPER] + 1, "too_long"),
    (255, 10, "bad_kind"),
])
def test_datagram_limits(kind, payload_len, reason):
    for pack, parse in ((proto.pack_client_datagram, proto.parse_client_datagram),
                        (proto.pack_server_datagram, proto.parse_server_datagram)):
        with pytest.raises(proto.ProtocolError) as exc:
            parse(pack(kind, 1, 0, 0, b"x" * payload_len))
        assert exc.value.reason == reason
    assert proto.parse_client_datagram(proto.pack_client_datagram(proto.KIND_POSE, 1, 0, 0, b"x" * 128))
    assert proto.parse_client_datagram(proto.pack_client_datagram(proto.KIND_VOICE, 1, 0, 0, b"x" * 400))


def test_short_datagrams_and_bad_seats():
    for n in range(proto.CLIENT_HEADER):
        with pytest.raises(proto.ProtocolError, match="shorter"):
            proto.parse_client_datagram(b"\x01" * n)
    for n in range(proto.SERVER_HEADER):
        with pytest.raises(proto.ProtocolError, match="shorter"):
            proto.parse_server_datagram(b"\x01" * n)
    with pytest.raises(proto.ProtocolError) as exc:
        proto.parse_server_datagram(proto.pack_server_datagram(proto.KIND_POSE, proto.MAX_SEATS, 0, 0))
    assert exc.value.reason == "bad_seat"


def test_ms_diff_wraps():
    assert proto.ms_diff(5, 3) == 2
    assert proto.ms_diff(3, 5) == -2
    assert proto.ms_diff(2, 2**32 - 3) == 5
    assert proto.ms_diff(2**32 - 3, 2) == -5
    assert proto.ms_diff(2**31 - 1, 0) == 2**31 - 1

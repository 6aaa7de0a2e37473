"""What identity costs: per-datagram MAC work at the server and per-join key work, in this process.

Prints microseconds per operation and the ratio to a reference measured in the same run: the
server's whole handling of one pose datagram from a 16-person room (parse, session lookup, MAC
check, replay window, re-sealing it for 15 recipients; the sendto calls replaced by a counter;
the sender's own packing and sealing of the datagram is inside the timed loop too).

    PYTHONPATH=. .venv/bin/python bench/identity.py [--repeat 20000]
"""

from __future__ import annotations

import argparse
import time

from xrdemo.net import identity as I
from xrdemo.net import protocol as proto
from xrdemo.net.server import Server, _Member, _Room


class _NullSocket:
    def __init__(self):
        self.sent = 0

    def sendto(self, data, addr):
        self.sent += 1


def _per_call_us(fn, repeat: int) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat * 1e6


def _room_of_16() -> tuple[Server, _Member]:
    server = Server(port=0, capacity=16)
    room = _Room("bench", 16)
    server.rooms["bench"] = room
    for seat in range(16):
        keys = I.SessionKeys(bytes([seat]) * 32, bytes([seat + 100]) * 32)
        m = _Member(room, seat, f"p{seat}", f"{seat:08x}", {}, seat + 1, None, 0.0,
                    addr=("127.0.0.1", 20000 + seat), key=bytes(32), keys=keys)
        room.members[seat] = m
        server._sessions[seat + 1] = m
    server._udp_sock = _NullSocket()

    class _Loop:
        @staticmethod
        def time():
            return 0.0
    server._loop = _Loop()
    return server, room.members[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20000)
    args = ap.parse_args()
    n = args.repeat

    server, sender = _room_of_16()
    payload = bytes(80)
    seq = [0]

    def forward():
        seq[0] += 1
        data = proto.seal(sender.keys.up, proto.pack_client_datagram(proto.KIND_POSE, sender.session, seq[0],
                                                             seq[0], payload))
        server._on_datagram(data, sender.addr)

    key = bytes(32)
    body = proto.pack_server_datagram(proto.KIND_POSE, 1, 2, 3, payload)
    tag = proto.datagram_mac(key, body)
    window = I.ReplayWindow()
    wseq = [0]

    def window_step():
        wseq[0] = (wseq[0] + 1) & 0xFFFF
        window.accept(wseq[0], wseq[0])

    ref = _per_call_us(forward, n)
    assert server._udp_sock.sent == 15 * n, server.stats()["drops"]
    rows = [("server: one pose from a 16-person room, forwarded to 15 (reference)", ref)]
    rows.append(("  of which: seal one datagram (BLAKE2b-64, 88 bytes)", _per_call_us(lambda: proto.seal(key, body), n)))
    rows.append(("  of which: check one MAC", _per_call_us(lambda: proto.mac_ok(key, body, tag), n)))
    rows.append(("  of which: replay window step", _per_call_us(window_step, n)))
    rows.append(("  parse the header alone", _per_call_us(lambda: proto.parse_server_datagram(body), n)))

    ident = I.Identity.generate()
    eph_c, eph_s = I.Ephemeral(), I.Ephemeral()
    statement = I.join_statement(proto.PROTOCOL_VERSION, bytes(32), "room", "Ada", "abcdef01", eph_c.public)
    sig = ident.sign(statement)
    m = max(n // 20, 50)
    join_rows = [
        ("join: client signs its hello (Ed25519)", _per_call_us(lambda: ident.sign(statement), m)),
        ("join: server or a peer verifies it", _per_call_us(lambda: I.verify_join(ident.public, sig, statement), m)),
        ("join: X25519 + HKDF session keys (one side)",
         _per_call_us(lambda: eph_s.session_keys(eph_c.public, bytes(32), eph_c.public, eph_s.public), m)),
        ("join: new ephemeral key pair", _per_call_us(I.Ephemeral, m)),
    ]
    print(f"{'operation':72s} {'us/op':>8s} {'x ref':>7s}")
    for name, us in rows + join_rows:
        print(f"{name:72s} {us:8.2f} {us / ref:7.3f}")
    per_s = 16 * 60
    print(f"\n16 people sending 60 poses/s: {per_s} datagrams/s in -> "
          f"{per_s * ref / 1e6 * 100:.1f}% of one core for the server's datagram handling "
          f"(MAC work: {per_s * (rows[2][1] + 15 * rows[1][1]) / 1e6 * 100:.1f}%)")


if __name__ == "__main__":
    main()

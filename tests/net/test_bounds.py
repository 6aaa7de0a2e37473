"""Issue 16, item 6: bounded everything. Connections per address and in all, rooms per server and
members per room each have a limit refused with a clear message; one writer thread records all
rooms; running out of file handles refuses connections with one log line per interval (no
flood) and the server recovers."""

import ast
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from xrdemo.net import limits as L
from xrdemo.net.client import NetClient
from xrdemo.net.server import ServerThread
from xrdemo.replay import fileformat as F

from netutil import raw_join, recv_message, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _first_message(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s, recv_message(s)


def test_connections_per_address_and_in_all_are_limited_with_a_clear_message():
    with ServerThread(port=0, limits=L.ServerLimits(per_address=3, connections=100)) as srv:
        held = [_first_message(srv.port) for _ in range(3)]
        assert all(m["type"] == "challenge" for _, m in held)
        s, m = _first_message(srv.port)
        assert m["type"] == "error" and m["code"] == "too_many_connections"
        assert "3 connections from your address" in m["message"]
        s.close()
        held.pop()[0].close()
        wait_until(lambda: srv.stats()["refused"] == {"too_many_connections": 1} and
                   srv.call(lambda: sum(srv.server._per_address.values())) == 2)
        s, m = _first_message(srv.port)
        assert m["type"] == "challenge"                       # room again
        held.append((s, m))
        for s, _ in held:
            s.close()
    with ServerThread(port=0, limits=L.ServerLimits(per_address=50, connections=4)) as srv:
        held = [_first_message(srv.port) for _ in range(4)]
        s, m = _first_message(srv.port)
        assert m["code"] == "busy" and "too many connections" in m["message"]
        c = NetClient("127.0.0.1", srv.port, "r", "late")
        try:
            c.connect(timeout_s=3)
            raise AssertionError("a full server took a connection")
        except ConnectionError as exc:
            assert "busy" in str(exc) and "too many connections" in str(exc)
        finally:
            c.close()
        for s, _ in held + [(s, m)]:
            s.close()


def test_rooms_per_server_are_limited_and_members_per_room_by_the_capacity():
    with ServerThread(port=0, capacity=1, limits=L.ServerLimits(rooms=2)) as srv:
        a, wa = raw_join(srv.port, room="one", name="a", client_id="aaaa0001")
        b, wb = raw_join(srv.port, room="two", name="b", client_id="bbbb0002")
        c, wc = raw_join(srv.port, room="three", name="c", client_id="cccc0003")
        assert wa["type"] == wb["type"] == "welcome"
        assert wc["code"] == "too_many_rooms" and "2 rooms" in wc["message"]
        d, wd = raw_join(srv.port, room="one", name="d", client_id="dddd0004")
        assert wd["code"] == "room_full"
        assert srv.stats()["refused"] == {"too_many_rooms": 1, "room_full": 1}
        for s in (a, b, c, d):
            s.close()


def test_one_writer_thread_records_every_room(tmp_path):
    from xrdemo.replay.server_record import ServerRecorder

    before = threading.active_count()
    with ServerThread(port=0, capacity=2, limits=L.ServerLimits(per_address=100)) as srv:
        observer = ServerRecorder(tmp_path, "127.0.0.1:test")
        srv.call(setattr, srv.server, "observer", observer)
        socks = [raw_join(srv.port, room=f"room{i}", name=f"p{i}", client_id=f"{i:08x}")[0] for i in range(40)]
        wait_until(lambda: len(observer.rooms) == 40)
        assert threading.active_count() <= before + 2        # the server's thread and the writer
        for s in socks:
            s.close()
        wait_until(lambda: not observer.rooms)
    observer.close()
    assert len(observer.files) == 40
    for path in observer.files:
        with F.RecordingReader(path) as r:
            assert r.indexed and r.damage is None and r.meta["kind"] == "server"


HARNESS = r"""
import asyncio, os, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (96, 96))
from xrdemo.net.limits import ServerLimits
from xrdemo.net.server import Server

async def main():
    srv = Server(host="127.0.0.1", port=0, log=lambda m: print(m, flush=True),
                 limits=ServerLimits(per_address=1000))
    await srv.start()
    print("port", srv.port, "budget", srv.max_connections, flush=True)
    hog = []
    read = lambda: asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await read()                           # "hog": take every file handle left
    while True:
        try:
            hog.append(os.open("/dev/null", os.O_RDONLY))
        except OSError:
            break
    print("hogged", len(hog), flush=True)
    await read()                           # "release"
    for fd in hog:
        os.close(fd)
    print("released", dict(srv.stats()["refused"]), flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_out_of_file_handles_one_line_per_interval_and_recovery():
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-c", HARNESS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    socks = []
    try:
        first = proc.stdout.readline().split()
        port, budget = int(first[1]), int(first[3])
        assert budget < 96                                    # fitted to the handle limit
        # within the budget: refused with a message before the OS runs out
        socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(budget + 3)]
        msgs = [recv_message(s) for s in socks]
        assert [m["type"] for m in msgs].count("challenge") == budget
        assert {m.get("code") for m in msgs if m["type"] == "error"} == {"busy"}
        for s in socks:
            s.close()
        socks = []
        time.sleep(0.5)
        proc.stdin.write("hog\n")
        proc.stdin.flush()
        lines = []
        while not lines or not lines[-1].startswith("hogged"):
            lines.append(proc.stdout.readline())
        # the OS refuses accept() now: connect anyway, for 3 s
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            except OSError:
                pass
            time.sleep(0.05)
        proc.stdin.write("release\n")
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            lines.append(line)
            if line.startswith("released") or not line:
                break
        for s in socks:
            s.close()
        socks = []
        refusing = [x for x in lines if "refusing new connections" in x]
        assert 1 <= len(refusing) <= 2, lines                  # one line per 10 s, not a flood
        refused = ast.literal_eval(lines[-1].partition(" ")[2])            # the server's counts, as printed
        assert refused["out_of_file_handles"] >= 2 and refused["busy"] == 3, lines
        time.sleep(1.5)                                        # asyncio accepts again within 1 s
        c = NetClient("127.0.0.1", port, "r", "after")
        try:
            assert c.connect(timeout_s=5)["seat"] == 0            # recovered
        finally:
            c.close()
    finally:
        for s in socks:
            s.close()
        proc.kill()
        _, err = proc.communicate(timeout=10)
    assert "Traceback" not in err, err[-2000:]

"""Room churn with every room recorded: how long the server's event loop ever stalls.

    PYTHONPATH=. .venv/bin/python bench/net_churn.py [--rooms 300] [--rounds 3]

The embedded server in a thread records every room (``ServerRecorder``: one writer thread for
all rooms); a probe on the server's loop asks to run every 5 ms and notes how late it runs.
Each round, ``--rooms`` signed-in clients join ``--rooms`` different rooms (raw protocol
clients in another process, one TCP connection each, so their signing does not hold this
process's interpreter lock) and then all leave at once, so every room opens a file and closes it. Prints the worst and 99th-percentile loop lag against one frame (16.7 ms at 60 Hz).
"""

import argparse
import multiprocessing
import socket
import sys
import tempfile
import time

import numpy as np

from xrdemo.net.limits import ServerLimits  # noqa: E402
from xrdemo.net.server import ServerThread  # noqa: E402
from xrdemo.replay.server_record import ServerRecorder  # noqa: E402


def churn(port: int, rooms: int, rounds: int, done) -> None:
    """(worker process) ``rounds`` times: ``rooms`` raw clients join their own rooms, then all leave."""
    sys.path.insert(0, "tests/net")
    from netutil import raw_join as join

    for r in range(rounds):
        socks = [join(port, room=f"r{r}-{i}", name=f"p{r}x{i}", client_id=f"{r:02x}{i:06x}")[0]
                 for i in range(rooms)]
        for s in socks:
            s.shutdown(socket.SHUT_RDWR)
            s.close()
        done.put(r)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-record", action="store_true", help="no recorder (the loop's own lag)")
    args = ap.parse_args(argv)
    lags = []
    with tempfile.TemporaryDirectory() as folder, \
            ServerThread(port=0, limits=ServerLimits(per_address=10_000, rooms=10_000),
                         name_rates={"key": (1e6, 1e6), "address": (1e6, 1e6)}) as srv:
        observer = None if args.no_record else ServerRecorder(folder, "bench")
        srv.call(setattr, srv.server, "observer", observer)
        loop = srv._loop
        state = {"on": True}

        def tick(due):
            lags.append(loop.time() - due)
            if state["on"]:
                loop.call_at(loop.time() + 0.005, tick, loop.time() + 0.005)
        loop.call_soon_threadsafe(lambda: loop.call_at(loop.time() + 0.005, tick, loop.time() + 0.005))
        t0 = time.monotonic()
        ctx = multiprocessing.get_context("spawn")
        done = ctx.Queue()
        proc = ctx.Process(target=churn, args=(srv.port, args.rooms, args.rounds, done), daemon=True)
        proc.start()
        for _ in range(args.rounds):
            done.get(timeout=600)
            while srv.stats()["rooms"]:
                time.sleep(0.01)
        proc.join(10)
        state["on"] = False
        seconds = time.monotonic() - t0
        if observer is not None:
            observer.close()
        files = len(observer.files) if observer is not None else 0
    lag_ms = np.array(lags) * 1000.0
    print(f"{args.rounds} rounds of {args.rooms} rooms opened and closed ({files} recordings) in {seconds:.1f} s")
    print("| loop lag ms | median | p99 | max | frames (16.7 ms) at most |")
    print("|---|---|---|---|---|")
    print(f"| {'no recording' if args.no_record else 'every room recorded (one writer thread)'} | {np.median(lag_ms):.2f} | {np.percentile(lag_ms, 99):.2f} | "
          f"{lag_ms.max():.2f} | {lag_ms.max() / 16.7:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

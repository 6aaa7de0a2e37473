"""A member flooding valid poses into a full room: what the other members still receive.

    PYTHONPATH=. .venv/bin/python bench/net_flood.py [--seats 31] [--seconds 6] [--no-limits]

Honest transport-only participants (poses at 30 Hz, four talkers with 50 voice frames a second)
in worker processes, the embedded server in a thread here, one member in its own process
sending 10,000 valid pose datagrams a second. One run has a baseline phase and a flood phase;
the table gives the honest rates per receiver (median and worst) in both, and the ratio.
--no-limits raises every fair share a thousandfold (the server before issue 16).
"""

import argparse
import statistics
import sys
import time

from xrdemo.net import limits as L
from xrdemo.net.server import ServerThread
from xrdemo.testing.simclients import measure_flood


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seats", type=int, default=31)
    ap.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    ap.add_argument("--rate", type=float, default=10000.0, help="flood datagrams per second")
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--no-limits", action="store_true")
    args = ap.parse_args(argv)
    rates = {k: (r * 1000, b * 1000) for k, (r, b) in L.RATES.items()} if args.no_limits else None
    with ServerThread(port=0, capacity=args.seats, timeout_s=3.0, rates=rates) as srv:
        cpu0 = srv.cpu_seconds()
        t0 = time.monotonic()
        r = measure_flood(f"127.0.0.1:{srv.port}/flood", args.seats - 1, phase_s=args.seconds,
                          flood_rate=args.rate, processes=args.processes, talkers=4)
        cpu = (srv.cpu_seconds() - cpu0) / (time.monotonic() - t0)
        stats = srv.stats()
    rx = r["receivers"]
    print(f"{args.seats} seats, {args.seats - 1} honest, flood {r['flood_sent'] / args.seconds:.0f} poses/s "
          f"({'no limits' if args.no_limits else 'fair shares'}); server thread CPU {100 * cpu:.0f} % "
          f"(whole run); rate-limited {stats['rate_limited']}")
    print("| rate per receiver | no flood (median / worst) | flood (median / worst) | worst ratio |")
    print("|---|---|---|---|")
    for kind in ("pose", "voice"):
        base = [x[f"{kind}_base"] for x in rx]
        att = [x[f"{kind}_attack"] for x in rx]
        ratio = min(a / b for a, b in zip(att, base) if b) if any(base) else float("nan")
        print(f"| honest {kind}/s | {statistics.median(base):.1f} / {min(base):.1f} | "
              f"{statistics.median(att):.1f} / {min(att):.1f} | {ratio:.3f} |")
    print(f"| flood poses/s delivered to each | - | {statistics.median(x['flood_received'] for x in rx) / args.seconds:.1f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

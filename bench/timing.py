"""Timing helper shared by the bench scripts (imported as a sibling: bench/ is the script's folder)."""

from __future__ import annotations

import statistics
import time


def median_us_per_call(fn, items, rounds: int, clock=time.perf_counter) -> float:
    """Median over ``rounds`` of the mean µs per call of fn(item) over items, on ``clock``
    (time.process_time counts this process's CPU only, so other load on a shared machine counts
    less)."""
    times = []
    for _ in range(rounds):
        t0 = clock()
        for item in items:
            fn(item)
        times.append((clock() - t0) / len(items) * 1e6)
    return statistics.median(times)

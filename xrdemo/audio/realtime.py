"""Real-time helpers for the live audio path (``io.LiveOutput``).

Added head-tracking latency of rendering ahead: at most ``ahead`` blocks (ahead x 5.33 ms at
256 / 48 kHz), because a block is rendered with the pose that is newest when it is rendered, up to
``ahead`` blocks before the device plays it.
"""

from __future__ import annotations

import os
import threading

DEFAULT_AHEAD = 3  # blocks: 16 ms; + 1 JACK period + 1 crossfade block = 26.7 ms < the 30 ms budget


def raise_thread_priority(fifo_priority: int = 5, nice: int = -10) -> str:
    """Ask the OS to favour the calling thread (audio must not wait behind busy threads).

    Tries SCHED_FIFO at a low real-time priority, then a negative nice value; both need privileges
    (CAP_SYS_NICE or an rtprio/nice limit, as audio users usually have), so failing is fine.
    Returns what was granted: "fifo", "nice" or "normal". Linux applies both per thread.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(fifo_priority))
        return "fifo"
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        return "nice"
    except (AttributeError, OSError):
        return "normal"

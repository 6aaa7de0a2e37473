"""Render-ahead for live audio: a lock-free block ring and the thread that keeps it filled.

The device callback must never wait for Python work that may lose the GIL or the CPU to the render
loop. So a dedicated render thread keeps ``ahead`` blocks rendered in a preallocated ring (single
producer, single consumer: each side owns one counter and only reads the other's), reading the
newest head pose just before each block it renders; the callback only copies one block out.

Added head-tracking latency: at most ``ahead`` blocks (ahead x 5.33 ms at 256 / 48 kHz), because a
block is rendered with the pose that is newest when it is rendered, up to ``ahead`` blocks before
it is handed to the device.
"""

from __future__ import annotations

import threading
import time

import numpy as np

DEFAULT_AHEAD = 2  # blocks: 2 x 5.33 ms keeps head-turn-to-sound under 30 ms with a 2-period device


class BlockRing:
    """Preallocated ring of ``capacity`` blocks (block, channels) float32; one writer, one reader.

    ``written`` is only changed by the producer, ``consumed`` only by the consumer; both only grow,
    so ``written - consumed`` is the fill level and neither side needs a lock (Python int stores
    are atomic). No method allocates arrays.
    """

    def __init__(self, capacity: int, block: int, channels: int = 2):
        if capacity < 1:
            raise ValueError("ring capacity must be at least one block")
        self.capacity = int(capacity)
        self.buffer = np.zeros((self.capacity, int(block), int(channels)), dtype=np.float32)
        self._slots = [self.buffer[i] for i in range(self.capacity)]  # views made once
        self.written = 0
        self.consumed = 0

    def level(self) -> int:
        """Blocks ready to read."""
        return self.written - self.consumed

    # -- producer side
    def write_slot(self) -> np.ndarray:
        """The (block, channels) slot the producer fills next; only valid while level() < capacity."""
        return self._slots[self.written % self.capacity]

    def commit(self) -> None:
        """Publish the slot filled through write_slot()."""
        self.written += 1

    # -- consumer side
    def pop_into(self, out: np.ndarray) -> bool:
        """Copy the oldest ready block into out (block, channels); False (out untouched) if empty."""
        if self.written == self.consumed:
            return False
        np.copyto(out, self._slots[self.consumed % self.capacity])
        self.consumed += 1
        return True


def raise_thread_priority(fifo_priority: int = 5, nice: int = -10) -> str:
    """Ask the OS to favour the calling thread (audio must not wait behind busy threads).

    Tries SCHED_FIFO at a low real-time priority, then a negative nice value; both need privileges
    (CAP_SYS_NICE or an rtprio/nice limit, as audio users usually have), so failing is fine.
    Returns what was granted: "fifo", "nice" or "normal". Linux applies both per thread.
    """
    import os

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


class RenderAheadThread:
    """Keeps ``ring`` filled to ``ahead`` blocks by calling ``render(out (block, 2))``.

    When the ring is full the thread sleeps a quarter block, so a consumed block is replaced well
    within one block period. ``prefill()`` renders the first ``ahead`` blocks synchronously (call it
    before the device starts).
    """

    def __init__(self, render, ring: BlockRing, ahead: int, block_seconds: float):
        if not 1 <= ahead <= ring.capacity:
            raise ValueError(f"ahead must be 1..{ring.capacity} blocks")
        self.render = render
        self.ring = ring
        self.ahead = int(ahead)
        self.poll_seconds = block_seconds / 4.0
        self.rendered = 0
        self.priority = "not started"
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audio-render", daemon=True)

    def _fill(self) -> None:
        ring = self.ring
        while ring.level() < self.ahead:
            self.render(ring.write_slot())
            ring.commit()
            self.rendered += 1

    def prefill(self) -> None:
        self._fill()

    def _run(self) -> None:
        self.priority = raise_thread_priority()
        try:
            while not self._stop.is_set():
                self._fill()
                time.sleep(self.poll_seconds)
        except BaseException as exc:  # reported by stats(); the callback then plays silence
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

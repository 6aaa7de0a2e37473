"""Lock-free "newest value" handoffs between the render loop and the audio renderer.

``SeqlockSlots``: one writer, any number of readers, a float64 vector (L,), over any writable
buffer: a numpy array inside one process, or ``multiprocessing.shared_memory`` between processes.
Two slots, each guarded by a sequence counter that the writer makes odd before copying and even
after; the writer only ever fills the slot that is *not* published, then points ``published`` at
it. A reader copies the published slot and retries if its counter was odd or moved meanwhile,
or if that slot is no longer the published one (so reads never go back in time).
Neither side takes a lock or allocates, and a writer preempted half-way through a copy never
stalls a reader (the reader reads the other, complete slot).

Memory ordering: the counters and slots are plain aligned stores made from separate Python
statements, so each is a separate C call; they become visible in program order on x86-64 (TSO).
Weakly ordered CPUs (ARM) give no such promise without barriers; there a torn copy is possible in
principle (it would last one block: every block reads the newest values again).

``PoseHandoff``: the newest listener pose inside one process. ``MeetingChannel``: the shared memory
block between the app process and the audio process (``realtime.AudioProcess``).
"""

from __future__ import annotations

import os
import secrets

import numpy as np

POSE_LEN = 7  # position (3,) metres + orientation quaternion (4,) (x, y, z, w)


class SeqlockSlots:
    """The newest float64 vector (L,) from one writer to readers; lock-free on both sides.

    buffer: writable buffer of at least ``offset + nbytes(length)`` bytes; offset: multiple of 8.
    Layout: int64 header [published slot, sequence of slot 0, sequence of slot 1], then the two
    float64 slots (2, L).
    """

    HEADER = 3

    @staticmethod
    def nbytes(length: int) -> int:
        return 8 * (SeqlockSlots.HEADER + 2 * int(length))

    def __init__(self, buffer, length: int, offset: int = 0):
        self.length = int(length)
        self._header = np.ndarray(self.HEADER, np.int64, buffer, offset)
        self._slots = np.ndarray((2, self.length), np.float64, buffer, offset + 8 * self.HEADER)
        self._scratch = np.zeros(self.length)
        self.retries = 0  # reads that had to try again (a writer published during the copy)

    def initialise(self, values) -> None:
        """Before any reader or writer runs: both slots hold values, counters zero."""
        self._slots[:] = values
        self._header[:] = 0

    def write(self, values) -> None:
        """Writer side: publish values (L,) without ever blocking a reader."""
        header = self._header
        target = 1 - int(header[0])
        header[1 + target] += 1          # odd: being written
        self._slots[target] = values
        header[1 + target] += 1          # even: complete
        header[0] = target               # publish

    def read(self, out: np.ndarray, tries: int = 16) -> bool:
        """Reader side: copy the newest complete values into out (L,). Returns False (out
        untouched) only if a writer published more than ``tries`` times during the reads."""
        header, slots, scratch = self._header, self._slots, self._scratch
        for _ in range(tries):
            slot = int(header[0])
            before = int(header[1 + slot])
            if before & 1:
                self.retries += 1
                continue
            scratch[:] = slots[slot]
            # Unchanged during the copy, and still the published slot: a slot the writer has
            # just completed but not yet published may hold a newer value than the published
            # one, and returning it would let the next read go back in time.
            if int(header[1 + slot]) == before and int(header[0]) == slot:
                out[:] = scratch
                return True
            self.retries += 1
        return False

    @property
    def publishes(self) -> int:
        """How many writes so far (each makes one counter go up by two)."""
        return int(self._header[1] + self._header[2]) // 2

    def release(self) -> None:
        """Drop the views into the buffer (shared memory can only close without them)."""
        self._header = self._slots = None


class PoseHandoff:
    """Newest listener pose inside one process: position (3,) metres + quaternion (4,) (x, y, z, w).

    One writer (the frame loop), one reader (the audio thread); see ``SeqlockSlots``.
    """

    def __init__(self, position=(0.0, 0.0, 0.0), orientation=(0.0, 0.0, 0.0, 1.0)):
        self._buffer = np.zeros(SeqlockSlots.nbytes(POSE_LEN) // 8)
        self._slots = SeqlockSlots(self._buffer, POSE_LEN)
        self._slots.initialise(np.concatenate([position, orientation]))
        self._pose = np.zeros(POSE_LEN)

    def publish(self, position, orientation) -> None:
        """Writer side (render loop): store a new pose without blocking the reader."""
        self._pose[:3] = position
        self._pose[3:] = orientation
        self._slots.write(self._pose)

    def read(self, out: np.ndarray) -> int:
        """Reader side (audio thread): copy the newest pose into out (7,); returns the publish count,
        or 0 when nothing was copied (nothing published yet, or the reader gave up: out untouched)."""
        if not self._slots.read(out):
            return 0
        return self._slots.publishes


class MeetingChannel:
    """Shared memory between the app process (writer of the meeting) and the audio process.

    App -> audio (``inputs``, one seqlock): listener pose (7,), mouths (N, 3) metres, speaking (N,)
    as 0/1, whisper gains (N,) linear. Audio -> app (``levels``, one seqlock of N * (1 + MOUTH)):
    voice level (N,) 0..1 per person, then their mouth shapes (N, MOUTH) from the voice as played
    (audio.visemes), for lips and the speaking indicator. ``control`` (int64, CONTROL_SLOTS): the stop
    flag (app writes) and counters (audio writes, single writer each, aligned int64: no tearing);
    ``underrun_at`` (int64, 64): block numbers of the first underruns, -1 = none.
    Audio -> app (``far_end``, a ``mic_processing.FarEndRing`` of FAR_END_SECONDS, stereo): every
    block exactly as it was handed to the sound device, for the microphone's echo canceller.

    ``MeetingChannel(n)`` creates a segment named ``xrdemo-audio-<pid>-<random>``; the creator
    must ``close()`` and ``unlink()`` it. ``MeetingChannel(n, name=...)`` attaches (audio process).
    """

    CONTROL_SLOTS = 16
    MOUTH = 5                       # viseme groups per person (core.expressions.VISEME_GROUPS)
    UNDERRUN_LOG = 64
    FAR_END_SECONDS = 0.5

    def __init__(self, n: int, name: str | None = None):
        from multiprocessing import shared_memory

        from .mic_processing import SAMPLE_RATE, FarEndRing

        self.n = int(n)
        self.input_len = POSE_LEN + 5 * self.n
        far_capacity = int(self.FAR_END_SECONDS * SAMPLE_RATE)
        sizes = [8 * self.CONTROL_SLOTS, 8 * self.UNDERRUN_LOG,
                 SeqlockSlots.nbytes(self.input_len), SeqlockSlots.nbytes(self.n * (1 + self.MOUTH)),
                 FarEndRing.nbytes(far_capacity, 2)]
        self.creator = name is None
        if self.creator:
            name = f"xrdemo-audio-{os.getpid()}-{secrets.token_hex(4)}"
            self._shm = shared_memory.SharedMemory(name=name, create=True, size=sum(sizes))
        else:
            self._shm = shared_memory.SharedMemory(name=name)
        self.name = self._shm.name
        buf = self._shm.buf
        offsets = np.cumsum([0] + sizes)
        self.control = np.ndarray(self.CONTROL_SLOTS, np.int64, buf, int(offsets[0]))
        self.underrun_at = np.ndarray(self.UNDERRUN_LOG, np.int64, buf, int(offsets[1]))
        self.inputs = SeqlockSlots(buf, self.input_len, int(offsets[2]))
        self.levels = SeqlockSlots(buf, self.n * (1 + self.MOUTH), int(offsets[3]))
        self.far_end = FarEndRing(far_capacity, 2, buffer=buf, offset=int(offsets[4]))
        self._packed = np.zeros(self.input_len)
        if self.creator:
            self.far_end.initialise()
            self.control[:] = 0
            self.underrun_at[:] = -1
            initial = np.zeros(self.input_len)
            initial[6] = 1.0                                   # identity orientation
            initial[POSE_LEN + 4 * self.n:] = 1.0              # whisper gains 1
            self.inputs.initialise(initial)
            self.levels.initialise(np.zeros(self.n * (1 + self.MOUTH)))

    def publish(self, head_pos, head_rot, mouths, speaking, whisper) -> None:
        """App side: one consistent snapshot of the meeting for the audio process."""
        p, n = self._packed, self.n
        p[0:3] = head_pos
        p[3:7] = head_rot
        p[7:7 + 3 * n] = np.asarray(mouths, float).reshape(-1)
        p[7 + 3 * n:7 + 4 * n] = speaking
        p[7 + 4 * n:] = whisper
        self.inputs.write(p)

    def unpack(self, packed: np.ndarray):
        """Views of a packed input vector: pose (7,), mouths (N, 3), speaking (N,) bool-ish, whisper (N,)."""
        n = self.n
        return (packed[:7], packed[7:7 + 3 * n].reshape(n, 3), packed[7 + 3 * n:7 + 4 * n],
                packed[7 + 4 * n:])

    def close(self) -> None:
        """Drop this process's views and mapping (the segment stays until ``unlink``)."""
        if self._shm is None:
            return
        self.inputs.release()
        self.levels.release()
        self.far_end.release()
        self.control = self.underrun_at = None
        self._shm.close()

    def unlink(self) -> None:
        """Creator only: remove the segment's name (memory goes once every mapping is closed)."""
        if self._shm is not None and self.creator:
            try:
                self._shm.unlink()
            except FileNotFoundError:
                pass
        self._shm = None

"""The seqlock's reads never go back in time, whatever the interleaving with the writer."""

import numpy as np

from xrdemo.audio.handoff import SeqlockSlots


class _InterleavedHeader:
    """The seqlock's header, running a scripted writer step just before the reader's n-th look."""

    def __init__(self, real, at_read: int, writer_step):
        self.real, self.at_read, self.writer_step, self.reads = real, at_read, writer_step, 0

    def __getitem__(self, i):
        self.reads += 1
        if self.reads == self.at_read:
            self.writer_step()
        return self.real[i]

    def __setitem__(self, i, value):
        self.real[i] = value


def test_a_slot_written_but_not_yet_published_is_never_returned():
    buf = np.zeros(SeqlockSlots.nbytes(1) // 8)
    slots = SeqlockSlots(buf, 1)
    slots.initialise([0.0])
    slots.write([1.0])
    slots.write([2.0])                          # published: the slot holding 2
    real = slots._header

    def writer_runs_ahead():
        """The writer publishes 3 in the other slot, then completes 4 in the reader's slot but is
        preempted before publishing it."""
        slots._header = real
        slots.write([3.0])
        target = 1 - int(real[0])
        real[1 + target] += 1
        slots._slots[target] = [4.0]
        real[1 + target] += 1                   # complete, not published

    # The reader has looked up the published slot; the writer runs before it reads that slot's
    # counter.
    slots._header = _InterleavedHeader(real, at_read=2, writer_step=writer_runs_ahead)
    out = np.zeros(1)
    assert slots.read(out)
    first = out[0]
    slots._header = real
    assert slots.read(out)
    assert out[0] >= first, f"read {first} and then {out[0]}: back in time"
    assert out[0] == 3.0                        # the newest published value

"""The audio process's plumbing without a device: the cross-process seqlock, and the fallback when
no sound device can be opened (one clear line, silent, nothing left behind)."""

import multiprocessing
from pathlib import Path

import numpy as np

from xrdemo.audio.handoff import MeetingChannel

LENGTH = 7 + 5 * 8


def _writer(name, n, count):
    channel = MeetingChannel(n, name=name)
    try:
        values = np.zeros(channel.input_len)
        for k in range(1, count + 1):
            values[:] = k                    # every field equal: a torn read would show
            channel.inputs.write(values)
    finally:
        channel.close()
        channel.unlink()


def test_seqlock_between_processes_never_tears_and_only_moves_forward():
    channel = MeetingChannel(8)
    assert channel.input_len == LENGTH
    ctx = multiprocessing.get_context("spawn")
    writer = ctx.Process(target=_writer, args=(channel.name, 8, 200_000))
    channel.inputs.initialise(np.zeros(channel.input_len))
    try:
        writer.start()
        out = np.zeros(channel.input_len)
        seen = []
        gave_up = 0
        while True:
            alive = writer.is_alive()
            # read() may give up (out untouched, False) when a writer publishes on every retry;
            # a writer at full speed on the other core can do that. It must never tear.
            if channel.inputs.read(out):
                assert np.all(out == out[0]), out
                seen.append(out[0])
            else:
                gave_up += 1
            if not alive:
                assert channel.inputs.read(out)      # a quiet writer: the read always succeeds
                seen.append(out[0])
                break
        writer.join(30)
        assert writer.exitcode == 0
        assert np.all(np.diff(seen) >= 0) and seen[-1] == 200_000
        assert len(np.unique(seen)) > 10          # the reads really overlapped the writes
        assert gave_up < len(seen)                # giving up is the exception
    finally:
        if writer.is_alive():
            writer.kill()
        channel.close()
        channel.unlink()
    assert not Path(f"/dev/shm/{channel.name}").exists()


def test_no_sound_device_gives_one_clear_line_and_a_silent_meeting():
    from xrdemo.loop.live_audio import LiveMeetingAudio

    lines = []
    audio = LiveMeetingAudio(3, 0, device="xrdemo-no-such-device", log=lines.append)
    name = audio.process.channel.name
    try:
        assert len(lines) == 1 and lines[0].startswith("audio: no sound device (") and "silent" in lines[0]
        assert "\n" not in lines[0]
        assert audio.device is None
        heads = np.zeros((3, 3))
        audio.publish(heads[0], [0, 0, 0, 1.0], heads, heads, np.ones(3, bool))   # a no-op, no error
        assert np.all(audio.level == 0.0)
        assert audio.stats()["process"] == "no-device"
        assert not audio.process.process.is_alive()
    finally:
        audio.close()
    assert not Path(f"/dev/shm/{name}").exists()

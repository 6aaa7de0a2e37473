"""The echo canceller's reference on the real live path: the audio process (on a JACK dummy server,
a paced device) writes every block it hands to the device into the far-end ring in shared memory,
and the app side reads them in order, in 10 ms frames, as the microphone's sender thread does."""

import time

import numpy as np
import pytest

from xrdemo.audio.mic_processing import FRAME


def test_every_played_block_reaches_the_far_end_reader_in_order(jack_server, monkeypatch):
    pytest.importorskip("livekit.rtc")
    from xrdemo.audio.mic_processing import MicProcessor
    from xrdemo.loop.live_audio import LiveMeetingAudio

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server["JACK_DEFAULT_SERVER"])
    lines = []
    audio = LiveMeetingAudio(4, 0, log=lines.append)
    try:
        assert audio.device and "JACK" in audio.device, lines
        processor = MicProcessor(far_ring=audio.process.far_end)
        heads = np.array([[0.0, 1.2, 1.0], [1.0, 1.2, 0.0], [0.0, 1.2, -1.0], [-1.0, 1.2, 0.0]])
        speaking = np.array([False, True, True, True])
        rot = np.array([0.0, 0.0, 0.0, 1.0])
        ring = audio.process.far_end
        got, silence = [], np.zeros(FRAME, np.float32)
        start = time.monotonic()
        while time.monotonic() < start + 2.0:
            audio.publish(heads[0], rot, heads, heads, speaking)
            if time.monotonic() < start + 1.2:
                while ring.available() >= FRAME:    # first read here, to look at the samples
                    frame = np.zeros((FRAME, 2), np.float32)
                    ring.read(frame)
                    got.append(frame)
            else:
                processor.process(silence)           # then by the canceller itself
            time.sleep(1 / 90)
        blocks = audio.stats()["callbacks"]
        read = len(got) * FRAME + processor.far_frames * FRAME + ring.available()
        assert ring.overruns == 0
    finally:
        audio.close()
    ahead = audio.process.ahead
    # everything handed to the device so far: the blocks played plus the ones rendered ahead
    assert blocks * 256 <= read <= (blocks + ahead + 2) * 256, (blocks, read)
    x = np.concatenate(got)
    assert x.shape[1] == 2 and np.sqrt(np.mean(x[-48000:] ** 2)) > 1e-3    # the voices are in it
    assert np.all(np.abs(x) <= 1.0)
    assert processor.far_frames > 50

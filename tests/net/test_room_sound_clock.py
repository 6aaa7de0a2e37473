"""The audio clock of a headless networked participant (``recording.RoomSound``): after the
machine falls behind real time and the frames catch up, voices are asked for at about real time,
never from the future (whose packets have not come: the recording fell silent for good)."""

import numpy as np

from tests.conftest import quiet_config
from xrdemo.loop import frame_sound as recording
from xrdemo.core import scene as S

NS = 1_000_000_000
FPS = 30


class _AskedTimes:
    """Stands in for RemoteVoices: records the time each block is asked for."""

    def __init__(self, n, block):
        self.times = []
        self.out = np.zeros((n, block), np.float32)

    def next_block(self, speaking, now_ns):
        self.times.append(now_ns)
        return self.out, (np.zeros(len(self.out)), np.zeros(len(self.out), bool))


def test_blocks_follow_real_time_through_a_stall_and_the_catch_up(monkeypatch):
    cfg = quiet_config(people=3)
    state = S.make_meeting(3, local=0)
    voices = _AskedTimes(3, cfg.audio.block)
    sound = recording.RoomSound(cfg, state, voices)
    t0 = 10 * NS
    sound.t_origin_ns = t0
    clock = {"now": t0}
    monkeypatch.setattr(recording.time, "monotonic_ns", lambda: clock["now"])
    listener = (np.array([0.0, 1.2, 0.5]), np.array([0.0, 0.0, 0.0, 1.0]))
    worst_ahead = worst_behind = 0
    for k in range(6 * FPS):
        t_frame = t0 + k * NS // FPS
        if k == 0:
            clock["now"] = t0 + NS // 2  # a 0.5 s stall before the first frame
        else:  # caught-up frames wait for their time; late ones render at once (2 ms each)
            clock["now"] = max(t_frame, clock["now"] + 2_000_000)
        first = len(voices.times)
        sound.render_until(state, (k + 1) * cfg.audio.sample_rate // FPS, listener)
        asked = np.array(voices.times[first:]) - clock["now"]
        worst_ahead = max(worst_ahead, asked.max())
        worst_behind = max(worst_behind, -asked.min())
    # a frame's blocks reach one frame ahead of its start; never more (the old clock: 0.5 s)
    assert worst_ahead <= NS // FPS + 2 * cfg.audio.block * NS // cfg.audio.sample_rate, worst_ahead / 1e6
    assert worst_behind <= recording.LAG_SLACK_NS + NS // FPS, worst_behind / 1e6
    assert np.all(np.diff(voices.times[-FPS * 8:]) > 0)  # back on schedule: strictly increasing

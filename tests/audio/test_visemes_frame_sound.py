"""Scripted people's mouths follow their voices in headless recordings: FrameSound runs the viseme
analysis on the very blocks it spatialises, and the frame loop hands them to the core."""

import numpy as np

from tests.conftest import quiet_config
from xrdemo.core import scene as S
from xrdemo.loop import frame_sound as FS
from xrdemo.loop.headless import FrameSoundPart


class OneVoice:
    """Person 1 says a fixed signal (a vowel-like buzz), the others are silent."""

    def __init__(self, n, block):
        t = np.arange(48000) / 48000
        self.signal = (0.2 * np.sign(np.sin(2 * np.pi * 140 * t))).astype(np.float32)
        self.n, self.block, self.at = n, block, 0

    def next_block(self, speaking, now_ns):
        out = np.zeros((self.n, self.block), np.float32)
        out[1] = self.signal[self.at:self.at + self.block]
        self.at = (self.at + self.block) % (len(self.signal) - self.block)
        return out, (np.zeros(self.n), np.zeros(self.n, bool))


def test_frame_sound_keeps_mouth_weights_and_the_part_passes_them_on():
    cfg = quiet_config(people=3)
    state = S.make_meeting(3, local=0)
    sound = FS.RoomSound(cfg, state, OneVoice(3, cfg.audio.block))
    sound.t_origin_ns = 0
    listener = (np.array([0.0, 1.2, 0.5]), np.array([0.0, 0.0, 0.0, 1.0]))
    sound.render_until(state, sound.rate // 4, listener)
    assert sound.mouth.shape == (3, 5)
    assert np.all(sound.mouth[[0, 2]] == 0)                 # silent people: a face at rest
    assert sound.mouth[1].max() > 0.2                       # the speaker's mouth moves

    class Tick:
        inputs = S.LocalInput()
    part = FrameSoundPart(sound, lambda tick: None, levels="voice")
    part.on_inputs(Tick)
    np.testing.assert_array_equal(Tick.inputs.voice_mouth, sound.mouth)

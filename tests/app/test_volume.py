"""Volume: the person you look at is turned up or down, else everyone; remembered per identity."""

import json

import numpy as np

from xrdemo.config import Config
from xrdemo.core import pose as P
from xrdemo.loop.frame_loop import Tick
from xrdemo.loop.volume import STEP_DB, Volume, looked_at
from xrdemo.meetings import meeting_state
from xrdemo.platform.base import ControllersInput, FrameInput, HandsInput, Pose, SessionState


def tick_looking_at(state, target):
    k = state.local
    pos = state.people.head_pos[k]
    yaw, pitch = P.yaw_pitch_toward(target - pos)
    head = Pose(pos, P.quat_from_yaw_pitch_roll(yaw, pitch), True)
    frame = FrameInput(0, 1, [], head, HandsInput.untracked(), ControllersInput.idle(), None,
                       SessionState.FOCUSED, True)
    return Tick(frame=frame, room=frame, t_ns=0, index=0, state=state)


def test_looking_at_someone_turns_them_alone_and_looking_away_turns_everyone(tmp_path):
    state = meeting_state(Config())
    v = Volume(log=lambda m: None, path=tmp_path / "v.json")
    v.on_meeting(None, state)
    v.change(tick_looking_at(state, state.people.head_pos[2]), up=False)
    g = v.gains()
    assert np.isclose(20 * np.log10(g[2]), -STEP_DB) and np.allclose(np.delete(g, 2), 1.0)
    assert "volume:" in v.shown and state.people.names[2] in v.shown
    v.change(tick_looking_at(state, np.array([0.0, 3.0, 0.0])), up=True)        # at the ceiling
    assert np.isclose(20 * np.log10(v.gains()[0]), STEP_DB)
    assert np.isclose(20 * np.log10(v.gains()[2]), 0.0)


def test_a_known_persons_volume_is_remembered_by_their_key(tmp_path):
    path = tmp_path / "v.json"
    state = meeting_state(Config())
    v = Volume(log=lambda m: None, path=path)
    v.on_meeting(None, state)
    v._fingerprints = ["", "", "AB12 CD34", "", "", ""]
    for _ in range(2):
        v.change(tick_looking_at(state, state.people.head_pos[2]), up=True)
    assert json.loads(path.read_text()) == {"AB12 CD34": 2 * STEP_DB}
    again = Volume(log=lambda m: None, path=path)
    assert again._remembered["AB12 CD34"] == 2 * STEP_DB
    path.write_text("not json")                                   # a damaged file is no crash
    assert Volume(log=lambda m: None, path=path)._remembered == {}


def test_looked_at_needs_the_head_to_point_at_the_person():
    heads = np.array([[0, 1.2, 1], [1, 1.2, 0], [0, 1.2, -1]], float)
    present = np.ones(3, bool)
    q = P.quat_from_yaw_pitch_roll(0.0)                          # looking along -Z from seat 0
    assert looked_at(heads[0], q, heads, present, 0) == 2
    present[2] = False
    assert looked_at(heads[0], q, heads, present, 0) == -1

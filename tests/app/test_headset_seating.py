"""A headset wearer sits in their seat (not inside the table), whatever the runtime's stage origin;
a saved table calibration no longer breaks later sessions; a fit that is not a table is refused."""

from pathlib import Path

import numpy as np

from tests.conftest import quiet_config
from xrdemo.core import pose as P
from xrdemo.core.seating import BEHIND_CHAIR_M
from xrdemo.loop.frame_loop import FramePart, Tick
from xrdemo.platform.simulated import SimulatedPlatform
from xrdemo.platform.timeline import Timeline

NO_ALIGNMENT = Path("/nonexistent/xrdemo-test/align.json")


def stage_platform(gl, head, size=(64, 36)):
    """The simulated runtime reporting a headset's stage space (origin nowhere near a seat)."""
    from xrdemo.render.renderer import Framebuffer

    target = Framebuffer(size, samples=1)
    p = SimulatedPlatform(Timeline(head=head, hands=None, refresh_hz=30.0), start_ns=0, view_count=2,
                          view_size=size, framebuffer_for=lambda i, s: target.draw_fbo)
    p.capabilities.reference_space = "stage"
    return p


class Spy(FramePart):
    """A loop part that keeps the meeting state after every step."""

    def __init__(self):
        self.states, self.rooms = [], []

    def on_step(self, tick):
        self.states.append(tick.state)
        self.rooms.append(tick.room)


def run_seated(gl, head, frames=6, people=6):
    from xrdemo.loop.drivers import CoreDriver
    from xrdemo.loop.frame_loop import FrameLoop
    from xrdemo.loop.seating import Seating
    from xrdemo.meetings import meeting_state

    platform = stage_platform(gl, head)
    state = meeting_state(quiet_config(people))
    spy = Spy()
    seating = Seating(platform, log=lambda s: None)
    FrameLoop(platform, CoreDriver(state), [seating, spy]).run(max_frames=frames)
    platform.shutdown()
    return spy, seating


def test_a_seated_wearer_at_the_stage_origin_sits_in_their_seat_facing_the_table(gl):
    head = lambda t: (np.array([0.0, 1.15, 0.0]), P.IDENTITY_QUAT.copy())
    spy, _ = run_seated(gl, head)
    state = spy.states[-1]
    k = state.local
    pos = state.people.head_pos[k]
    assert np.linalg.norm(pos - state.seat_pos[k]) < 0.02, (pos, state.seat_pos[k])
    yaw = float(P.yaw_of(state.people.head_rot[k]))
    assert abs(np.angle(np.exp(1j * (yaw - state.seat_yaw[k])))) < 0.02
    # the table centre is straight ahead, below eye level
    view = spy.rooms[-1].views[0]
    to_centre = np.array([0.0, state.table.height, 0.0]) - view.position
    ahead = P.quat_rotate(view.orientation, np.array([0.0, 0.0, -1.0]))
    assert to_centre @ ahead > 0.9 * np.linalg.norm(to_centre) * np.cos(np.radians(40))
    assert to_centre[1] < 0


def test_a_standing_wearer_off_to_the_side_and_turned_stands_behind_their_chair(gl):
    q = P.quat_from_yaw_pitch_roll(np.pi / 2)
    head = lambda t: (np.array([1.0, 1.62, 0.3]), q.copy())
    spy, _ = run_seated(gl, head)
    state = spy.states[-1]
    k = state.local
    pos = state.people.head_pos[k]
    seat = state.seat_pos[k]
    assert abs(np.hypot(*(pos - seat)[[0, 2]]) - BEHIND_CHAIR_M) < 0.02
    assert abs(pos[1] - 1.62) < 0.01                       # the floor stays the floor
    assert np.hypot(pos[0], pos[2]) > np.hypot(seat[0], seat[2])   # behind, not in front
    yaw = float(P.yaw_of(state.people.head_rot[k]))
    assert abs(np.angle(np.exp(1j * (yaw - state.seat_yaw[k])))) < 0.02


def test_a_recenter_sits_the_wearer_down_again_from_where_they_are_now(gl):
    from xrdemo.loop.frame_loop import FramePart

    moved = {"at": None}

    def head(t_ns):
        if moved["at"] is not None and t_ns >= moved["at"]:     # walked 2 m away and turned round
            return np.array([2.0, 1.15, -1.0]), P.quat_from_yaw_pitch_roll(np.pi)
        return np.array([0.0, 1.15, 0.0]), P.IDENTITY_QUAT.copy()

    class Recenter(FramePart):
        def __init__(self, seating):
            self.seating = seating

        def after_frame(self, tick):
            if tick.index == 3:
                moved["at"] = tick.frame.predicted_display_time_ns + 1
            if tick.index == 6:
                self.seating.recenter()

    from xrdemo.loop.drivers import CoreDriver
    from xrdemo.loop.frame_loop import FrameLoop
    from xrdemo.loop.seating import Seating
    from xrdemo.meetings import meeting_state

    platform = stage_platform(gl, head)
    state = meeting_state(quiet_config(5))
    spy = Spy()
    seating = Seating(platform, log=lambda s: None)
    FrameLoop(platform, CoreDriver(state), [seating, Recenter(seating), spy]).run(max_frames=10)
    k = state.local
    away = spy.states[5].people.head_pos[k]
    back = spy.states[-1].people.head_pos[k]
    assert np.linalg.norm(away - spy.states[5].seat_pos[k]) > 1.0     # walking away moves you
    assert np.linalg.norm(back - spy.states[-1].seat_pos[k]) < 0.02   # the recenter sits you down


def test_nothing_is_drawn_until_the_wearer_is_seated(gl):
    """While the runtime has no valid head pose there is no seat transform yet: the frame is
    not drawn (nobody sees the inside of the table), and the first valid head seats them."""
    from dataclasses import replace

    from xrdemo.loop.seating import Seating
    from xrdemo.meetings import meeting_state

    platform = stage_platform(gl, lambda t: (np.array([0.3, 1.1, 0.2]), P.IDENTITY_QUAT.copy()))
    seating = Seating(platform, log=lambda s: None)
    seating.on_meeting(None, meeting_state(quiet_config(4)))
    frame = platform.begin_frame()
    lost = replace(frame, head=replace(frame.head, valid=False))
    tick = Tick(frame=lost, room=lost, t_ns=0, index=0)
    seating.on_frame(tick)
    assert tick.room.should_render is False and seating.transform is None
    tick = Tick(frame=frame, room=frame, t_ns=0, index=1)
    seating.on_frame(tick)
    assert tick.room.should_render and seating.transform is not None
    platform.end_frame(frame, None)
    platform.shutdown()


def test_carrying_a_frame_moves_every_pose_the_same_rigid_way():
    from xrdemo.platform.base import FrameInput, HandsInput, ControllersInput, Pose, SessionState
    from xrdemo.core.frame import View
    from xrdemo.platform.carry import carry_frame

    rng = np.random.default_rng(2)

    def quats(n):
        q = rng.normal(size=(n, 4))
        return q / np.linalg.norm(q, axis=1, keepdims=True)

    hands = HandsInput.untracked()
    hands.positions[:] = rng.normal(size=hands.positions.shape)
    hands.orientations[:] = quats(52).reshape(2, 26, 4)
    c = ControllersInput.idle()
    c.grip_position[:], c.aim_position[:] = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    c.grip_orientation[:], c.aim_orientation[:] = quats(2), quats(2)
    views = [View(rng.normal(size=3), quats(1)[0], (-0.8, 0.8, 0.7, -0.7)) for _ in range(2)]
    frame = FrameInput(5, 11_111_111, views, Pose(rng.normal(size=3), quats(1)[0], True), hands, c,
                       Pose(rng.normal(size=3), quats(1)[0], True), SessionState.FOCUSED, True)
    t, q = rng.normal(size=3), quats(1)[0]
    g = carry_frame(frame, t, q)

    def same(a, b, pos):
        want = P.transform_points(t, q, a) if pos else P.quat_mul(np.broadcast_to(q, np.shape(a)), a)
        np.testing.assert_allclose(b, want, atol=2e-6)
    for a, b in zip(frame.views, g.views):
        same(a.position, b.position, True)
        same(a.orientation, b.orientation, False)
        assert a.fov == b.fov
    for name in ("head", "gaze"):
        same(getattr(frame, name).position, getattr(g, name).position, True)
        same(getattr(frame, name).orientation, getattr(g, name).orientation, False)
    same(frame.hands.positions, g.hands.positions, True)
    same(frame.hands.orientations, g.hands.orientations, False)
    for field in ("grip", "aim"):
        same(getattr(c, f"{field}_position"), getattr(g.controllers, f"{field}_position"), True)
        same(getattr(c, f"{field}_orientation"), getattr(g.controllers, f"{field}_orientation"), False)
    assert g.frame_index == frame.frame_index and frame.hands.positions is not g.hands.positions


def test_with_a_calibrated_table_the_wearer_sits_at_the_seat_nearest_to_where_they_are(gl, tmp_path):
    from xrdemo.alignment import TableAlignment
    from xrdemo.app import live_loop
    from xrdemo.meetings import meeting_state

    path = tmp_path / "align.json"
    path.write_text(TableAlignment.identity(0.74).to_json())     # the real table is where the virtual one is
    seats = meeting_state(quiet_config(6)).seat_pos
    near_3 = seats[3] + np.array([0.05, -0.05, 0.05])            # the wearer really is at seat 3
    platform = stage_platform(gl, lambda t: (near_3, P.IDENTITY_QUAT.copy()))
    spy = Spy()
    from xrdemo import app

    original = app.FrameLoop
    app.FrameLoop = lambda p, d, parts, **kw: original(p, d, [*parts, spy], **kw)
    try:
        logs = []
        assert live_loop(platform, quiet_config(6), log=logs.append, max_frames=6, table_alignment=path) == 0
    finally:
        app.FrameLoop = original
    assert spy.states[-1].local == 3, logs
    assert any("nearest to seat 3" in line for line in logs), logs
    # and the head is where it really is (the table alignment, not a seat transform, places it)
    assert np.linalg.norm(spy.states[-1].people.head_pos[3] - near_3) < 0.01

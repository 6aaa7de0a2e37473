"""Table alignment: touches on a real (tilted, offset, turned) table move the meeting onto it."""

import numpy as np
import pytest

from xrdemo.alignment import TableAlignment, TouchCollector
from xrdemo.core import pose as P
from xrdemo.platform.base import ControllersInput, FrameInput, HandsInput, Pose, SessionState


def real_table():
    """A real table in stage space: top at 0.71 m, centre (0.4, 0.71, -0.3), turned 25°, tilted 1°."""
    q = P.quat_mul(P.quat_from_yaw_pitch_roll(np.radians(25)), P.quat_from_axis_angle([1, 0, 0], np.radians(1.0)))
    return np.array([0.4, 0.71, -0.3]), q


def frame_with_tips(t_ns, left_tip, right_tip, valid=(True, True)):
    hands = HandsInput.untracked()
    hands.positions[0, 10] = left_tip
    hands.positions[1, 10] = right_tip
    hands.valid[:, :] = np.asarray(valid)[:, None]
    hands.active[:] = valid
    return FrameInput(t_ns, 11_111_111, [], Pose(np.array([0, 1.2, 0.5]), P.IDENTITY_QUAT.copy(), True),
                      hands, ControllersInput.idle(), None, SessionState.FOCUSED, True)


def touches(rng, centre, q, n_touches=10, frames=20):
    """Fingertips that move to a spot, rest there, and move on; 10 % wild samples."""
    half = np.array([0.8, 0.45])
    t = 0
    out = []
    for _ in range(n_touches):
        spots = []
        for _hand in range(2):
            u = rng.uniform(-1, 1, 2) * half
            spots.append(centre + P.quat_rotate(q, [u[0], 0.0, u[1]]))
        for f in range(frames):
            approach = max(0.0, 1 - f / 5)             # the first frames come down from above
            tips = [s + [0, 0.08 * approach, 0] + rng.normal(0, 0.0015, 3) for s in spots]
            if rng.random() < 0.1:
                tips[0] = tips[0] + rng.normal(0, 0.05, 3)
            out.append(frame_with_tips(t, tips[0], tips[1]))
            t += 11_111_111
        t += 300_000_000
    return out


def test_touches_recover_the_real_table_and_map_it_onto_the_virtual_one():
    rng = np.random.default_rng(5)
    centre, q = real_table()
    col = TouchCollector()
    for f in touches(rng, centre, q):
        col.add(f)
    al = col.fit()
    assert abs(al.table_height - 0.71) < 0.01
    # points on the real top land on the virtual top (y = table height in room space)
    for u in ([0, 0], [0.6, 0.3], [-0.7, -0.4]):
        p_stage = centre + P.quat_rotate(q, [u[0], 0.0, u[1]])
        p_room = al.points(p_stage)
        assert abs(p_room[1] - al.table_height) < 0.01
    # the real centre of the touched area maps near the virtual centre
    assert np.linalg.norm(al.points(centre)[[0, 2]]) < 0.15
    # the real up direction becomes the room's up (within 1°)
    up = P.quat_rotate(al.orientation, P.quat_rotate(q, [0, 1, 0]))
    assert np.degrees(np.arccos(np.clip(up[1], -1, 1))) < 1.0


def test_apply_moves_every_pose_of_a_frame():
    centre, q = real_table()
    al = TableAlignment(np.array([0.1, 0.0, -0.2]), P.quat_from_yaw_pitch_roll(0.3), 0.7)
    f = frame_with_tips(0, centre, centre + [0.1, 0, 0])
    g = al.apply(f)
    assert np.allclose(g.hands.positions[0, 10], al.points(centre), atol=1e-5)
    assert np.allclose(g.head.position, al.points(f.head.position))
    assert f.hands.positions[0, 10] is not g.hands.positions[0, 10]      # the input is untouched


def test_too_few_touches_and_bad_files_are_clear_errors():
    col = TouchCollector()
    with pytest.raises(ValueError, match="touch the real table"):
        col.fit()
    with pytest.raises(ValueError, match="not a table alignment"):
        TableAlignment.from_json("{}", "x.json")
    with pytest.raises(ValueError, match="unsupported version"):
        TableAlignment.from_json('{"version": 9}', "x.json")
    al = TableAlignment(np.array([0.1, 0.0, -0.2]), P.quat_from_yaw_pitch_roll(0.3), 0.7, 0.002, 40)
    back = TableAlignment.from_json(al.to_json())
    assert np.allclose(back.position, al.position) and back.samples == 40


def collected(frames):
    col = TouchCollector()
    for f in frames:
        col.add(f)
    return col


def test_a_steeply_tilted_surface_is_refused_and_nothing_is_saved(tmp_path):
    from xrdemo.loop.seating import finish_calibration

    rng = np.random.default_rng(9)
    centre = np.array([0.4, 0.8, -0.3])
    q = P.quat_from_axis_angle([1, 0, 0], np.radians(58.0))      # the 58° plane the issue found
    logs = []
    path = tmp_path / "align.json"
    assert finish_calibration(collected(touches(rng, centre, q)), path, logs.append) is None
    assert "tilted 58 degrees" in logs[-1] and "nothing saved" in logs[-1], logs
    assert not path.exists()
    # 9 degrees still counts as a table
    q9 = P.quat_from_axis_angle([1, 0, 0], np.radians(9.0))
    assert finish_calibration(collected(touches(rng, centre, q9)), path, logs.append) is not None


def test_too_few_touches_are_refused_with_how_to_do_better(tmp_path):
    from xrdemo.loop.seating import finish_calibration

    logs = []
    frames = [frame_with_tips(k * 11_111_111, [0.1, 0.7, 0.0], [0.3, 0.7, 0.1]) for k in range(6)]
    assert finish_calibration(collected(frames), tmp_path / "a.json", logs.append) is None
    assert "at least" in logs[-1] and "corners and edges" in logs[-1], logs


def test_the_fitted_size_and_long_edge_reach_the_virtual_table_and_the_wearer_is_on_the_near_side():
    from xrdemo.config import Config

    rng = np.random.default_rng(3)
    centre, q = real_table()
    col = collected(touches(rng, centre, q, n_touches=30))
    head = centre + P.quat_rotate(q, [0.0, 0.5, 1.0])      # standing at the table's +z side
    al = col.fit(head)
    cfg = al.apply_to_config(Config())
    assert cfg.table.shape == "rect"
    assert 1.3 < cfg.table.width <= 1.62 and 0.7 < cfg.table.depth <= 0.92, (cfg.table.width, cfg.table.depth)
    long_edge = P.quat_rotate(q, [1.0, 0.0, 0.0])
    assert abs(abs(P.quat_rotate(al.orientation, long_edge)[0]) - 1) < 0.01   # long edge along room X
    assert al.points(head)[2] > 0                                             # the wearer is at +Z
    # the other side of the table gives the other direction of the same edge
    far = centre + P.quat_rotate(q, [0.0, 0.5, -1.0])
    assert col.fit(far).points(far)[2] > 0
    # and the saved file keeps the size
    back = TableAlignment.from_json(al.to_json())
    assert np.allclose(back.half_extents, al.half_extents)


def test_a_saved_calibration_does_not_break_a_headset_session(gl, tmp_path):
    """The crash: the alignment made a copy of the frame, end_frame got the copy, skipped
    xrEndFrame, and frame 2's begin_frame failed. Every later run loads the saved fit."""
    from xrdemo.app import live_loop
    from xrdemo.platform.openxr import OpenXRPlatform
    from xrdemo.platform.timeline import Timeline, default_controllers
    from xrdemo.render.renderer import Framebuffer
    from xrdemo.testing.fake_xr import FakeConfig, FakeXr
    from tests.conftest import quiet_config

    target = Framebuffer((32, 32), samples=1)

    class Offscreen:                     # every swapchain image drawn into one real framebuffer
        def framebuffer(self, texture, size):
            return target.draw_fbo

        def bind(self, fbo, size):
            pass

        def after_submit(self):
            pass

        def destroy(self):
            pass

    class Ctx:
        display = config = context = None

    rng = np.random.default_rng(5)
    centre, q = real_table()
    path = tmp_path / "align.json"
    path.write_text(collected(touches(rng, centre, q)).fit().to_json())
    fx = FakeXr(Timeline(controllers=default_controllers), FakeConfig(start_ns=10 ** 10))
    platform = OpenXRPlatform(fx, Ctx(), framebuffers=Offscreen(), sleep=lambda s: None, log=lambda m: None)
    logs = []
    assert live_loop(platform, quiet_config(), log=logs.append, max_frames=12, table_alignment=path) == 0
    assert any("table alignment: using" in line for line in logs), logs
    projected = [s for s in fx.submitted if s["layers"]]
    assert len(projected) >= 8, fx.submitted[-3:]

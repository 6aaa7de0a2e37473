import math

import numpy as np
import pytest

from xrdemo.core.pose import quat_from_axis_angle, quat_rotate
from xrdemo.core.table import (CONTACT_RADII, TableGeometry, calibrate_table, contact_step)


def touch_samples(rng, q_tilt, centre, half=(0.8, 0.5), yaw=0.4, touches=12, per_touch=45,
                  noise=0.002, outlier_frac=0.2, moving_frac=0.25):
    """Fingertip samples on a tilted, rotated table: still touches, hands moving in, outliers."""
    pts, times, vels = [], [], []
    t = 0.0
    cy, sy = math.cos(yaw), math.sin(yaw)
    # The calibration protocol: touch the four corners and the middle of each edge, then anywhere.
    spots = [(sx * half[0], sz * half[1]) for sx in (-1, 0, 1) for sz in (-1, 0, 1) if (sx, sz) != (0, 0)]
    spots += [(rng.uniform(-half[0], half[0]), rng.uniform(-half[1], half[1])) for _ in range(touches - 8)]
    for x, z in spots:
        local = np.array([cy * x + sy * z, 0.0, -sy * x + cy * z])
        for k in range(per_touch):
            p = local + rng.normal(0, noise, 3)
            v = np.zeros(3)
            if k < per_touch * moving_frac:                      # still approaching: above and moving
                p[1] += 0.01 * (per_touch * moving_frac - k)
                v = np.array([0.0, -0.3, 0.0])
            pts.append(p)
            times.append(t)
            vels.append(v)
            t += 1 / 90
        t += 1.0
    pts = np.array(pts)
    n_out = int(outlier_frac * len(pts))
    idx = rng.choice(len(pts), n_out, replace=False)
    pts[idx, 1] += rng.uniform(0.02, 0.15, n_out) * rng.choice([-1, 1], n_out)   # knuckles, hovering
    world = centre + quat_rotate(q_tilt, pts)
    return world, np.array(times), quat_rotate(q_tilt, np.array(vels))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_calibration_recovers_plane_within_1cm_and_1deg(seed):
    rng = np.random.default_rng(seed)
    q = quat_from_axis_angle(np.array([1.0, 0.0, 0.3]), math.radians(3.0))
    centre = np.array([0.2, 0.74, -0.5])
    pts, times, vels = touch_samples(rng, q, centre)
    normal = quat_rotate(q, np.array([0.0, 1.0, 0.0]))
    for kwargs in ({"velocities": vels}, {"times": times}):
        cal = calibrate_table(pts, rng=np.random.default_rng(seed), **kwargs)
        ang = math.degrees(math.acos(min(1.0, cal.table.normal @ normal)))
        assert ang < 1.0, ang
        assert abs((cal.table.centre - centre) @ normal) < 0.01
        assert cal.rms_m < 0.005 and cal.used > 0.4 * len(pts)
    # The long edge of the footprint follows the table's rotation (yaw 0.4 rad about the normal).
    edge = quat_rotate(q, np.array([math.cos(0.4), 0.0, -math.sin(0.4)]))
    assert abs(cal.table.x_axis @ edge) > math.cos(math.radians(12.0))


def test_calibration_without_outlier_rejection_would_fail():
    # Least squares on everything is pulled off by the outliers: the robust fit is doing the work.
    rng = np.random.default_rng(5)
    q = quat_from_axis_angle(np.array([0.0, 0.0, 1.0]), 0.0)
    pts, times, vels = touch_samples(rng, q, np.zeros(3), outlier_frac=0.3)
    c = pts.mean(axis=0)
    n = np.linalg.svd(pts - c)[2][-1]
    naive_rms = np.sqrt(np.mean(((pts - c) @ n) ** 2))
    cal = calibrate_table(pts, velocities=vels)
    assert naive_rms > 0.02 and cal.rms_m < 0.004
    with pytest.raises(ValueError):
        calibrate_table(pts[:5])


def test_table_pose_axes():
    t = TableGeometry(np.zeros(3), np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]), np.array([1.0, 0.5]))
    p, q = t.pose()
    assert np.allclose(quat_rotate(q, [0, 1.0, 0]), [0, 1, 0]) and np.allclose(quat_rotate(q, [1.0, 0, 0]), [1, 0, 0])


def test_contacts_detected_and_released_with_hysteresis():
    table = TableGeometry(np.array([0.0, 0.75, 0.0]), np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]),
                          np.array([0.8, 0.5]))
    rng = np.random.default_rng(1)
    contact = np.zeros((1, 6), bool)
    fps = 90
    downs, ups, state = [], [], []
    for k in range(6 * fps):
        t = k / fps
        # The index tip (slot 2) presses down at 1-3 s and lifts; 1.5 mm noise; the palm stays high.
        skin = 0.05 if (t < 1.0 or t >= 3.0) else 0.0
        if 0.8 <= t < 1.0:
            skin = 0.009                # hovering just above the touch threshold: no touch yet
        if 3.0 <= t < 3.2:
            skin = 0.007                # lifted a little, still below the release threshold: held
        joints = np.tile([0.1, 0.75, 0.1], (1, 6, 1)).astype(float)
        joints[0, :, 1] += 0.08 + CONTACT_RADII
        joints[0, 2, 1] = 0.75 + CONTACT_RADII[2] + skin + rng.normal(0, 0.0015)
        cf = contact_step(contact, joints, np.array([True]), table)
        contact = cf.contact
        downs += [(t, tuple(e)) for e in cf.down]
        ups += [(t, tuple(e)) for e in cf.up]
        state.append(contact[0, 2])
        assert cf.intensity.min() >= 0 and cf.intensity.max() <= 1
        if contact[0, 2]:
            assert cf.intensity[0, 2] == 1.0
        assert not contact[0, 0]
    assert [e for _, e in downs] == [(0, 2)] and [e for _, e in ups] == [(0, 2)]
    assert 1.0 <= downs[0][0] < 1.05 and 3.2 <= ups[0][0] < 3.25
    # Off the table's footprint or untracked: no contact.
    joints = np.tile([2.0, 0.75 + 0.007, 0.0], (1, 6, 1))
    assert not contact_step(np.zeros((1, 6), bool), joints, np.array([True]), table).contact.any()
    joints = np.tile([0.0, 0.75 + 0.007, 0.0], (1, 6, 1))
    assert not contact_step(np.zeros((1, 6), bool), joints, np.array([False]), table).contact.any()
    assert contact_step(np.zeros((1, 6), bool), joints, np.array([True]), table).haptic[0] == 1.0

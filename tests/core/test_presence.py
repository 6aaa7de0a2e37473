import numpy as np

from xrdemo.core.gestures import POSE_NAMES
from xrdemo.core.lips import VoiceEnvelope
from xrdemo.core.presence import PresenceConfig, new_presence, presence_step
from xrdemo.core.table import TableGeometry

from presence_sim import seats


def run(seed, n=6, seconds=20, fps=72, voice=False):
    table = TableGeometry(np.array([0.0, 0.75, 0.0]), np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]),
                          np.array([1.0, 0.6]))
    st = new_presence(PresenceConfig(n=n, seed=seed, local_index=0, table=table), t_ns=5_000_000_000)
    pos, q, R = seats(n)
    joints = np.zeros((n, 2, 26, 3))
    joints[..., 1] = 0.75 + 0.003                               # every hand resting on the table
    frames = []
    for k in range(int(seconds * fps)):
        t_ns = 5_000_000_000 + int(k * 1e9 / fps)
        env = None
        if voice:
            env = VoiceEnvelope(np.full((n, 8), 0.7), t_ns - 20_000_000, 200.0,
                                np.arange(n) == 0)
        st, f = presence_step(st, pos, q, t_ns, hand_joints=joints, voice=env)
        frames.append(f)
    return frames


def test_entry_point_shapes_ranges_and_determinism():
    n = 6
    fr = run(1)
    f = fr[-1]
    assert f.speaking.shape == (n,) and f.eye_dir.shape == (n, 3) and f.eyelid.shape == (n,)
    assert f.head_offset.shape == (n, 4) and f.jaw.shape == (n,)
    assert f.gesture_weights.shape == (n, 2, len(POSE_NAMES)) and f.point_dir.shape == (n, 2, 3)
    assert f.hand_alpha.shape == (n, 2) and f.contact_intensity.shape == (n, 2, 6)
    assert f.whisper_pairs.shape[1] == 2 and f.haptic.shape == (n, 2)
    assert np.allclose(np.linalg.norm(f.eye_dir, axis=1), 1.0)
    assert np.allclose(np.linalg.norm(f.head_offset, axis=1), 1.0)
    assert np.allclose(f.head_offset[0], [0, 0, 0, 1])          # the local user's head is real
    assert any(x.speaking.any() for x in fr) and any((x.jaw > 0.3).any() for x in fr)
    assert fr[0].contact_down.shape[0] == 2 * n * 6 and (fr[0].contact_intensity == 1.0).all()
    assert fr[1].contact_down.shape[0] == 0
    fr2 = run(1)
    assert all(np.array_equal(a.eye_dir, b.eye_dir) and np.array_equal(a.jaw, b.jaw) for a, b in zip(fr, fr2))
    fr3 = run(2)
    assert not all(np.array_equal(a.eye_dir, b.eye_dir) for a, b in zip(fr, fr3))


def test_real_voice_moves_the_local_users_jaw_in_sync():
    fr = run(3, seconds=3, voice=True)
    assert all(f.speaking[0] for f in fr[10:]) and fr[-1].jaw[0] > 0.5
    assert all(f.lip_sync_offset_ms <= 125 and f.lip_sync_offset_ms >= -45 for f in fr)

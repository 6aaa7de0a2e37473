"""Recordings carry faces and eyes (issue 14, item 6): FRAME fields 10 face and 11 voice_mouth, pose
payloads of format 2 (gaze + expressions) in POSE records, and files made before them still read."""

import numpy as np

from xrdemo.core import expressions as E
from xrdemo.core import scene as S
from xrdemo.net import posecodec as C
from xrdemo.replay import fileformat as F
from xrdemo.replay import records as R

from test_posecodec import FORMAT_1_PAYLOAD, face_sample


def test_face_and_voice_mouth_round_trip_in_a_frame_record():
    face = np.linspace(0, 1, E.EXPRESSION_COUNT).astype(np.float32)
    face[E.INDEX["brow_inner_up"]] = np.nan                       # a column the tracker cannot see
    mouth = np.random.default_rng(0).random((4, 5)).astype(np.float32)
    inputs = S.LocalInput(head_pos=np.array([0.0, 1.2, 0.0]), face=face, voice_mouth=mouth)
    rec = R.FrameRecord.from_inputs(7, 9, inputs)
    back = R.decode_frame(7, R.encode_frame(rec))
    assert R.frame_fields_equal(rec, back)
    again = back.local_input()
    np.testing.assert_array_equal(again.face, face)
    np.testing.assert_array_equal(again.voice_mouth, mouth)


def test_frames_recorded_before_faces_read_without_them():
    old = R.FrameRecord(5, 6, head_pos=np.array([0.0, 1.2, 0.0]), voice_level=np.zeros(3, np.float32))
    body = R.encode_frame(old)                                    # ids 1..9 only, as older files hold
    assert all(fid <= 9 for fid in _field_ids(body))
    back = R.decode_frame(5, body)
    assert back.face is None and back.voice_mouth is None
    assert back.local_input().face is None


def test_pose_records_keep_gaze_and_face_and_old_payloads_still_decode(tmp_path):
    sample = face_sample(np.random.default_rng(3))
    new = C.encode_pose(sample)
    path = tmp_path / "faces.xrrec"
    with F.RecordingWriter(path, {"kind": "participant", "t0_ns": 0}, frame_types=R.FRAME_TYPES) as w:
        w.add(R.POSE, 10, R.encode_datagram(2, 0, 100, new))
        w.add(R.POSE, 20, R.encode_datagram(2, 1, 116, FORMAT_1_PAYLOAD))
    with F.RecordingReader(path) as r:
        got = [R.decode_datagram(rec.rtype, rec.t_ns, rec.body) for rec in r.records()]
    a, b = (C.decode_pose(d.payload) for d in got)
    assert np.abs(a.face - sample.face).max() <= 0.5 / 31 + 1e-6 and a.gaze is not None
    assert b.face is None and b.gaze is None and b.whisper == 3


def _field_ids(body):
    import struct
    ids, pos = [], 8
    while pos < len(body):
        fid, _code, ndim = struct.unpack_from("<BBB", body, pos)
        shape = struct.unpack_from(f"<{ndim}H", body, pos + 3)
        size = {1: 8, 2: 4, 3: 1, 4: 4}[_code] * int(np.prod(shape, dtype=np.int64))
        ids.append(fid)
        pos += 3 + 2 * ndim + size
    return ids

"""Meeting recordings: the file format (round trips, index, damage, versions), record -> replay
equality for the recording seat, and seeking."""

from __future__ import annotations

import struct
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import quiet_config
from xrdemo.config import Config
from xrdemo.core import pose as P
from xrdemo.core import scene as S
from xrdemo.replay import fileformat as F
from xrdemo.replay import records as R
from xrdemo.replay.player import Replayer

from replayutil import Peer, scene_differences

NO_ALIGNMENT = Path("/nonexistent/xrdemo-test/align.json")


# --- the container ------------------------------------------------------------------------------
def sample_records(n: int = 50):
    """(rtype, t_ns, body) of every record type, in a plausible order."""
    rng = np.random.default_rng(5)
    out = [(R.STATE, 10, R.encode_json({"config": {}, "networked": True, "capacity": 4, "seat": 1,
                                        "names": ["", "Ada", "", ""], "present": [False, True, False, False]}))]
    for k in range(n):
        t = 1000 + k * 16_000_000
        out.append((R.EVENT, t, R.encode_json({"type": "joined", "seat": 2, "name": "Grace ✓"})))
        out.append((R.NAMES, t + 1, R.encode_json(["", "Ada", "Grace", ""])))
        out.append((R.NETSTATE, t + 2, R.encode_json({"shapes": {"2": None}, "forget": [3], "seat": 1})))
        out.append((R.POSE, t + 3, R.encode_datagram(2, k, 77 + k, rng.bytes(80))))
        out.append((R.VOICE, t + 4, R.encode_datagram(1, k, 99 + k, rng.bytes(60), R.SENT)))
        fr = R.FrameRecord(t + 5, 5 * k, head_pos=rng.normal(size=3), head_rot=rng.normal(size=4),
                           joints=rng.normal(size=(2, 26, 3)).astype(np.float32).astype(float),
                           valid=rng.random((2, 26)) > 0.2, radii=np.full((2, 26), 0.01),
                           voice_level=rng.random(4).astype(np.float32), mic_level=float(rng.random()),
                           remote_level=rng.random(4), not_drawn=k % 3 == 1)
        out.append((R.FRAME, t + 5, R.encode_frame(fr)))
    return out


def write(path, records, meta=None, **kw):
    with F.RecordingWriter(path, meta or {"kind": "participant", "t0_ns": 0}, frame_types=R.FRAME_TYPES,
                           **kw) as w:
        for rtype, t, body in records:
            w.add(rtype, t, body)
    return path


def test_every_record_type_round_trips_through_the_file(tmp_path):
    recs = sample_records()
    path = write(tmp_path / "a.xrrec", recs, meta={"kind": "participant", "t0_ns": 0, "room": "r ✓"},
                 chunk_bytes=4096)
    with F.RecordingReader(path) as r:
        assert r.indexed and r.damage is None
        assert r.meta["room"] == "r ✓" and r.version == F.FORMAT_VERSION
        assert len(r.chunks) > 3                       # several chunks, found through the index
        assert sum(c.frames for c in r.chunks) == 50
        got = list(r.records())
    assert [(g.rtype, g.t_ns, g.body) for g in got] == recs
    # ... and every body decodes to what was encoded
    for (rtype, t, body), g in zip(recs, got):
        if rtype == R.FRAME:
            a, b = R.decode_frame(t, body), R.decode_frame(g.t_ns, g.body)
            assert R.frame_fields_equal(a, b)
            assert b.voice_level.dtype == np.float32 and b.joints.dtype == np.float64
            assert b.valid.dtype == bool and isinstance(b.mic_level, float)
            assert b.not_drawn is a.not_drawn and isinstance(b.not_drawn, bool)
        elif rtype in (R.POSE, R.VOICE):
            d = R.decode_datagram(rtype, g.t_ns, g.body)
            assert d.payload == body[8:] and d.sent == (rtype == R.VOICE)
        else:
            assert R.decode_json(g.body) == R.decode_json(body)


def test_frame_records_keep_float64_inputs_bit_exact():
    rng = np.random.default_rng(1)
    inputs = S.LocalInput(head_pos=rng.normal(size=3), head_rot=P.normalize(rng.normal(size=4)),
                          joints=rng.normal(size=(2, 26, 3)), valid=np.ones((2, 26), bool),
                          eye_dir=rng.normal(size=3), mic_level=0.1 + 1e-17)
    rec = R.FrameRecord.from_inputs(5, 6, inputs)
    back = R.decode_frame(5, R.encode_frame(rec))
    assert R.frame_fields_equal(rec, back)
    assert np.array_equal(back.joints, inputs.joints) and back.radii is None
    assert back.not_drawn is False                        # drawn: nothing stored for it
    undrawn = R.FrameRecord.from_inputs(5, 6, inputs, drawn=False)
    assert len(R.encode_frame(undrawn)) == len(R.encode_frame(rec)) + 4
    assert R.decode_frame(5, R.encode_frame(undrawn)).not_drawn is True
    narrow = R.FrameRecord(1, 2, joints=np.float32(rng.normal(size=(2, 26, 3))).astype(float))
    assert len(R.encode_frame(narrow)) < len(R.encode_frame(rec)) - 600    # float32-exact data stored as f32


def test_a_file_without_its_index_is_scanned_and_says_so(tmp_path):
    recs = sample_records()
    path = write(tmp_path / "a.xrrec", recs, chunk_bytes=4096)
    data = path.read_bytes()
    cut = tmp_path / "cut.xrrec"
    (trailer_offset,) = struct.unpack_from("<Q", data, len(data) - 16)
    cut.write_bytes(data[:trailer_offset])                # every chunk, no index, no trailer
    with F.RecordingReader(cut) as r:
        assert not r.indexed
        assert "truncated" in str(r.damage) and str(cut) in str(r.damage)
        assert [(g.rtype, g.t_ns, g.body) for g in r.records()] == recs


def test_a_newer_format_is_refused_clearly(tmp_path):
    path = write(tmp_path / "a.xrrec", sample_records(3))
    data = bytearray(path.read_bytes())
    struct.pack_into("<H", data, 8, 3)
    path.write_bytes(bytes(data))
    with pytest.raises(F.NewerFormatError) as err:
        F.RecordingReader(path)
    assert "made by a newer xrdemo: format 3, this reads up to 1" in str(err.value)
    assert str(path) in str(err.value)


def test_not_a_recording_is_refused_clearly(tmp_path):
    path = tmp_path / "x.xrrec"
    path.write_bytes(b"hello world, this is text")
    with pytest.raises(F.RecordingError, match="not an xrdemo recording"):
        F.RecordingReader(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        F.RecordingReader(tmp_path / "missing.xrrec")


# --- record a live networked meeting, replay it ---------------------------------------------------
class StepSpy:
    """Wraps core.scene.step while installed: keeps (inputs' t, scene) of every call."""

    def __init__(self, monkeypatch):
        self.calls = []
        self.original = S.step
        self.monkeypatch = monkeypatch

        def spy(state, inputs, t_ns):
            new_state, scene = self.original(state, inputs, t_ns)
            self.calls.append((t_ns, new_state, scene))
            return new_state, scene

        monkeypatch.setattr(S, "step", spy)

    def remove(self):
        self.monkeypatch.setattr(S, "step", self.original)


@pytest.fixture(scope="module")
def live_recording(gl, tmp_path_factory):
    """A live loop (simulated runtime, EGL) in a room with a moving, talking peer, recorded;
    returns (path, the live (t, state, scene) of every core.step, logs)."""
    from xrdemo.net.server import ServerThread
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer

    gl.make_current()
    path = tmp_path_factory.mktemp("rec") / "live.xrrec"
    mp = pytest.MonkeyPatch()
    server = ServerThread(port=0, capacity=4).start()
    peer = Peer(f"127.0.0.1:{server.port}/replay").start()
    spy = StepSpy(mp)
    import xrdemo.app as app

    def head(t_ns):
        t = t_ns * 1e-9
        return np.array([0.1 * np.sin(t), 1.2, 0.9]), P.quat_from_yaw_pitch_roll(0.3 * np.sin(2 * t))

    target = Framebuffer((64, 36), samples=1)
    platform = SimulatedPlatform(Timeline(head=head), start_ns=0, view_count=1, view_size=(64, 36),
                                 framebuffer_for=lambda i, s: target.draw_fbo)
    original_step_frame = platform.begin_frame

    def paced_begin():
        time.sleep(0.012)                     # the simulated runtime does not wait for vsync
        return original_step_frame()

    platform.begin_frame = paced_begin
    logs = []
    try:
        status = app.live_loop(platform, quiet_config(), log=logs.append, max_frames=150,
                               table_alignment=NO_ALIGNMENT, join=f"127.0.0.1:{server.port}/replay",
                               name="Live", record=path)
    finally:
        spy.remove()
        peer.close()
        server.stop()
        mp.undo()
    assert status == 0, logs
    return path, spy.calls, logs


def test_the_live_run_was_recorded_with_the_peer_in_it(live_recording):
    path, calls, logs = live_recording
    assert any("recorded 150 frames" in line for line in logs), logs
    with F.RecordingReader(path) as r:
        assert r.indexed and r.damage is None
        m = r.meta
        assert m["kind"] == "participant" and m["name"] == "Live" and m["room"] == "replay"
        assert m["capacity"] == 4 and m["seat"] == 1 and m["names"][0] == "Peer" and m["seed"] == 1
        assert m["config"]["table"]["shape"] == "round" and m["created_utc"].endswith("Z")
        assert m["recorded_by"]["host"] and isinstance(m["t0_ns"], int)
        kinds = [rec.rtype for rec in r.records()]
    counts = {R.TYPE_NAMES[k]: kinds.count(k) for k in set(kinds)}
    assert counts["frame"] == 150 and counts["state"] == 1
    assert counts["pose"] > 50 and counts["voice"] > 30, counts      # received and sent
    assert counts["names"] >= 1
    # the peer is in the meeting the live loop saw
    _t, state, _scene = calls[-1]
    assert state.people.present.sum() == 2


def test_replay_of_the_recording_seat_gives_the_live_frames_exactly(live_recording):
    path, calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        frames = list(Replayer(r).frames())
    assert len(frames) == len(calls) == 150
    seen_peer = 0
    for k, (f, (t_live, state_live, scene_live)) in enumerate(zip(frames, calls)):
        assert f.step_t_ns == t_live
        diff = scene_differences(f.scene, scene_live)
        assert not diff, f"frame {k}: {diff} differ"
        assert np.array_equal(f.state.people.head_pos, state_live.people.head_pos)
        assert f.state.people.names == state_live.people.names
        seen_peer += int(f.state.people.present.sum() == 2)
    assert seen_peer > 100


def record_headless_participant(tmp_path, audio: bool, log=lambda *_: None) -> dict:
    """`run --platform headless --join ... --record` for 1.5 s at 20 fps (96x54) in a room with a
    moving, talking peer: PNG frames in tmp_path/live, the recording in tmp_path/cam.xrrec."""
    from xrdemo.net.server import ServerThread
    from xrdemo.recording import record_networked

    cfg = replace(Config(), display=replace(Config().display, width=96, height=54, fps=20))
    cfg = replace(cfg, audio=replace(cfg.audio, enabled=audio))
    server = ServerThread(port=0, capacity=3).start()
    peer = Peer(f"127.0.0.1:{server.port}/img").start()
    try:
        summary = record_networked(cfg, f"127.0.0.1:{server.port}/img", "Cam", 1.5, None, progress=False,
                                   log=log, frames_dir=tmp_path / "live", record=tmp_path / "cam.xrrec")
    finally:
        peer.close()
        server.stop()
    assert summary["recorded_frames"] == 30 and summary["most_people_seen"] == 1
    return summary


def same_pngs(a_dir, b_dir, n: int) -> None:
    from PIL import Image

    a_files, b_files = sorted(Path(a_dir).glob("*.png")), sorted(Path(b_dir).glob("*.png"))
    assert len(a_files) == len(b_files) == n
    for a, b in zip(a_files, b_files):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))), a.name


def test_a_headless_participant_replayed_gives_the_same_images(gl, tmp_path):
    """`run --platform headless --join ... --record`: replaying the file headless draws the very
    pictures the participant recorded (PNG for PNG)."""
    from PIL import Image

    from xrdemo.replay.output import replay_headless

    summary = record_headless_participant(tmp_path, audio=True)
    out = replay_headless(tmp_path / "cam.xrrec", tmp_path / "cam.mp4", frames_dir=tmp_path / "rep",
                          progress=False)
    assert out["damage"] is None and out["frames"] == 30 and out["seat"] == summary["seat"]
    same_pngs(tmp_path / "live", tmp_path / "rep", 30)
    rep = sorted((tmp_path / "rep").glob("*.png"))
    # from the peer's seat: the same meeting, other eyes (the recording participant in view)
    other = 1 - summary["seat"]
    out2 = replay_headless(tmp_path / "cam.xrrec", None, frames_dir=tmp_path / "peer", seat=other,
                           progress=False, audio=False)
    assert out2["seat"] == other and out2["frames"] == 30 and out2["held"] == 0
    peer_view = np.asarray(Image.open(sorted((tmp_path / "peer").glob("*.png"))[-1]), float)
    assert np.abs(peer_view - np.asarray(Image.open(rep[-1]), float)).mean() > 5
    # the MP4 has the peer's voice
    import av

    with av.open(str(tmp_path / "cam.mp4")) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    assert audio.shape[0] == 2 and np.sqrt(np.mean(audio[:, audio.shape[1] // 2:] ** 2)) > 0.005


def test_frames_a_late_participant_did_not_draw_are_held_in_its_replay_too(gl, tmp_path, monkeypatch, capsys):
    """A headless participant that falls behind real time does not draw the late frames (its video
    repeats the last picture); the recording says which, and the replay of its seat holds the
    same pictures. Here the machine stalls for 0.3 s (6 frames at 20 fps) at the third frame."""
    from PIL import Image

    from xrdemo.loop import parts
    from xrdemo.replay.output import replay_headless

    original = parts.RealTimePacer.on_frame

    def stalling(self, tick):
        if tick.index == 2:
            time.sleep(0.3)                              # fault injection: a stalled machine
        original(self, tick)

    monkeypatch.setattr(parts.RealTimePacer, "on_frame", stalling)
    logs = []
    seat = record_headless_participant(tmp_path, audio=False, log=logs.append)["seat"]
    monkeypatch.setattr(parts.RealTimePacer, "on_frame", original)
    said = [line for line in logs if "kept real time by repeating" in line]
    assert len(said) == 1, logs
    repeated = int(said[0].split("repeating ")[1].split()[0])
    assert repeated >= 3, said
    live = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "live").glob("*.png"))]
    assert np.array_equal(live[2], live[1]) and not np.array_equal(live[1], live[0])
    with F.RecordingReader(tmp_path / "cam.xrrec") as r:
        flags = [R.decode_frame(rec.t_ns, rec.body).not_drawn for rec in r.records() if rec.rtype == R.FRAME]
    assert len(flags) == 30 and sum(flags) == repeated and flags[2] and not flags[0]
    from xrdemo.cli import main

    status = main(["replay", str(tmp_path / "cam.xrrec"), "--platform", "headless", "--video",
                   str(tmp_path / "rep.mp4"), "--frames-dir", str(tmp_path / "rep"), "--no-audio", "--quiet"])
    said = capsys.readouterr().out
    assert status == 0, said
    same_pngs(tmp_path / "live", tmp_path / "rep", 30)
    assert f"wrote {tmp_path / 'rep.mp4'}: 30 frames" in said
    assert f"; {repeated} repeat the picture before, as the participant's video did" in said, said
    # from the other seat every frame is drawn
    out = replay_headless(tmp_path / "cam.xrrec", None, frames_dir=tmp_path / "peer", seat=0 if seat else 1,
                          progress=False, audio=False)
    assert out["held"] == 0 and out["frames"] == 30


def test_the_real_time_pacer_draws_the_first_frame_however_late_and_skips_later_late_ones():
    """A video needs a first picture to repeat: the first tick is drawn even when it comes a
    second late; a later tick that late is not drawn (and counted)."""
    from xrdemo.loop.frame_loop import Tick
    from xrdemo.loop.parts import RealTimePacer
    from xrdemo.platform.simulated import SimulatedPlatform

    platform = SimulatedPlatform(start_ns=time.monotonic_ns() - 1_000_000_000, view_count=1, view_size=(8, 8))
    pacer = RealTimePacer()
    drawn = []
    for k in range(3):
        frame = platform.begin_frame()
        tick = Tick(frame=frame, room=frame, t_ns=0, index=k)
        pacer.on_frame(tick)
        platform.end_frame(frame, None)
        drawn.append(tick.room.should_render)
    assert drawn == [True, False, False] and pacer.skipped == 2 and pacer.behind_s > 0.9


def test_seeking_gives_the_frames_of_the_full_replay_from_that_point(live_recording):
    path, calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        full = list(Replayer(r).frames())
        start_s = (full[90].t_ns - r.t0_ns) / 1e9
    with F.RecordingReader(path) as r:
        assert r.chunk_at(full[90].t_ns) < len(r.chunks)
        seek = list(Replayer(r, start_s=start_s).frames())
    assert [f.before_start for f in seek].index(False) == 90        # fast-forwarded, not rendered
    for a, b in zip(full[90:], seek[90:]):
        assert a.t_ns == b.t_ns and not scene_differences(a.scene, b.scene)


# --- damage ---------------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


class SmallFile(tuple):
    def __repr__(self):
        return f"<a recording of {len(self[0])} bytes>"


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("dmg") / "small.xrrec"
    recs = sample_records(12)
    write(path, recs, chunk_bytes=1500)
    return SmallFile((path.read_bytes(), recs))


def read_all(path):
    """(records read, damage, error at open) of a possibly damaged file."""
    try:
        r = F.RecordingReader(path)
    except F.RecordingError as exc:
        return [], None, exc
    with r:
        got = [(g.rtype, g.t_ns, g.body) for g in r.records()]
        return got, r.damage, None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_file_reads_its_intact_prefix_and_names_the_offset(small_file, tmp_path, cut):
    data, recs = small_file
    n = int(cut * len(data))
    path = tmp_path / "cut.xrrec"
    path.write_bytes(data[:n])
    got, damage, error = read_all(path)
    if error is not None:                       # cut inside the header or meta: nothing to play
        assert n < 200 and str(path) in str(error) and "at byte" in str(error)
        return
    assert damage is not None and str(path) in str(damage)
    assert damage.offset is not None and damage.offset <= n
    assert got == recs[:len(got)]               # an intact prefix, nothing invented
    assert len(got) >= len(recs) * (n - 3000) / len(data) - 1     # at most ~2 chunks lost


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.floats(0.0, 1.0, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_bit_is_found_and_the_records_before_it_play(small_file, tmp_path, where, bit):
    data, recs = small_file
    i = int(where * len(data))
    bad = bytearray(data)
    bad[i] ^= 1 << bit
    path = tmp_path / "flip.xrrec"
    path.write_bytes(bytes(bad))
    got, damage, error = read_all(path)
    if error is not None:
        assert i < 200                            # header or meta block
        assert isinstance(error, F.NewerFormatError) or "at byte" in str(error), error
        return
    assert damage is not None, f"a flipped bit at byte {i} went unnoticed"
    assert str(path) in str(damage)
    assert got == recs[:len(got)]
    assert damage.offset is None or damage.offset <= i, (damage, i)     # found where its chunk starts


def test_damage_in_the_middle_plays_the_part_before_it(small_file, tmp_path):
    data, recs = small_file
    with F.RecordingReader(write(tmp_path / "ok.xrrec", recs, chunk_bytes=1500)) as r:
        third = r.chunks[3].offset
    bad = bytearray(data)
    bad[third + 60] ^= 0x10
    path = tmp_path / "bad.xrrec"
    path.write_bytes(bytes(bad))
    got, damage, _ = read_all(path)
    assert "CRC does not match" in str(damage) and f"at byte {third}" in str(damage)
    assert got == recs[:len(got)] and len(got) > 10


def test_a_cut_off_live_recording_replays_its_first_frames_exactly(live_recording, tmp_path):
    path, calls, _logs = live_recording
    data = path.read_bytes()
    cut = tmp_path / "cut.xrrec"
    cut.write_bytes(data[:len(data) // 2])
    with F.RecordingReader(cut) as r:
        frames = list(Replayer(r).frames())
        assert "truncated" in str(r.damage) and str(cut) in str(r.damage)
    assert 30 < len(frames) < 150
    for f, (t_live, _state, scene_live) in zip(frames, calls):
        assert f.step_t_ns == t_live and not scene_differences(f.scene, scene_live)


# --- server-side recordings -------------------------------------------------------------------------
def test_a_server_recording_replays_the_room_from_any_seat(gl, tmp_path):
    from xrdemo.net.server import ServerThread
    from xrdemo.replay.output import replay_headless
    from xrdemo.replay.server_record import ServerRecorder

    server = ServerThread(port=0, capacity=4).start()
    observer = ServerRecorder(tmp_path, "127.0.0.1:test")
    server.call(setattr, server.server, "observer", observer)
    url = f"127.0.0.1:{server.port}/srv"
    a = Peer(url, "Ada", head=(0.6, 1.2, 0.0)).start()
    b = Peer(url, "Bob", head=(-0.6, 1.1, 0.0)).start()
    try:
        time.sleep(1.5)
        b.close()
        time.sleep(0.3)
    finally:
        a.close()
        server.stop()
        observer.close()                                              # the writer thread finishes
    assert len(observer.files) == 1 and not observer.rooms          # the room emptied: file closed
    path = observer.files[0]
    assert path.name.startswith("srv-") and path.suffix == ".xrrec"
    with F.RecordingReader(path) as r:
        assert r.indexed and r.damage is None and r.meta["kind"] == "server" and r.meta["capacity"] == 4
        frames = []
        for f in Replayer(r, tick_hz=20).frames():   # (a frame's state is the live object: copy it now)
            f.state = replace(f.state, people=replace(f.state.people, present=f.state.people.present.copy()))
            frames.append(f)
    with F.RecordingReader(path) as r:
        again = list(Replayer(r, tick_hz=20).frames())
    assert 30 <= len(frames) <= 45 and len(again) == len(frames)
    assert all(not scene_differences(x.scene, y.scene) for x, y in zip(frames, again))   # deterministic
    both = [f for f in frames if f.state.people.present.sum() == 2]
    assert len(both) > 15
    ppl = both[-1].state.people
    seats = {ppl.names[i]: i for i in np.flatnonzero(ppl.present)}
    assert set(seats) == {"Ada", "Bob"}
    assert abs(ppl.head_pos[seats["Bob"]][1] - 1.1) < 0.02 and abs(ppl.head_pos[seats["Ada"]][1] - 1.2) < 0.02
    assert frames[-1].state.people.present.sum() == 1                 # Bob left before the end
    # the replay checked both people's signed joins itself: both verified, on their name tags
    assert ppl.verified[seats["Ada"]] == 1 and ppl.verified[seats["Bob"]] == 1
    assert any(t.startswith("\u2713") and "Bob" in t for t in both[-1].scene.labels.texts)
    # someone who edits the file to put another name on Bob's join is not verified
    with F.RecordingReader(path) as r:
        recs = [(g.rtype, g.t_ns, g.body.replace(b'"Bob"', b'"Eve"')) for g in r.records()]
        meta = r.meta
    forged = write(tmp_path / "forged.xrrec", recs, meta=meta)
    with F.RecordingReader(forged) as r:          # (a frame's state is the live object: read it now)
        fake = [(f.state.people.names, f.state.people.verified.copy()) for f in Replayer(r, tick_hz=20).frames()
                if f.state.people.present.sum() == 2][-1]
    assert fake[0][seats["Bob"]] == "Eve"
    assert fake[1][seats["Bob"]] == 0 and fake[1][seats["Ada"]] == 1
    # headless from Ada's seat: hears Bob
    out = replay_headless(path, tmp_path / "ada.mp4", seat=seats["Ada"], progress=False, size=(64, 36))
    assert out["seat"] == seats["Ada"] and out["damage"] is None and out["frames"] > 40
    import av

    with av.open(str(tmp_path / "ada.mp4")) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    assert np.sqrt(np.mean(audio ** 2)) > 0.005


def test_replay_on_a_live_platform_shows_the_meeting_on_the_wall_clock(gl, live_recording):
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer
    from xrdemo.replay.output import replay_live

    gl.make_current()                 # (headless replays make and release contexts of their own)
    path, calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        start = r.duration_s - 0.4
    target = Framebuffer((48, 27), samples=1)
    platform = SimulatedPlatform(Timeline(), start_ns=0, view_count=1, view_size=(48, 27),
                                 framebuffer_for=lambda i, s: target.draw_fbo)
    shown = []
    original = platform.end_frame

    def paced_end(frame, draw=None):
        original(frame, draw)
        if draw is not None:                                    # (not the fast-forward's empty frames)
            shown.append(time.monotonic())
            time.sleep(0.01)

    platform.end_frame = paced_end
    summary = replay_live(platform, path, start_s=start, seat=2, audio=False)
    assert summary["seat"] == 2 and summary["damage"] is None
    assert summary["fast_forwarded"] > 100 and platform.frames_drawn == summary["frames"] > 5
    assert 0.15 < shown[-1] - shown[0] < 1.5                   # played the last ~0.3 s in real time
    assert 0.15 < summary["seconds"] < 0.6


def test_a_live_replay_keeps_the_platform_going_while_it_fast_forwards(gl, live_recording, monkeypatch,
                                                                       capsys):
    """A long jump takes a while: the window or headset still gets frames (nothing drawn), its
    status line says how far it is, a progress line goes to stderr, and closing the window then
    ends the replay."""
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer
    from xrdemo.replay import output

    gl.make_current()
    path, _calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        start = r.duration_s - 0.3
    monkeypatch.setattr(output, "FAST_FORWARD_FRAME_S", 0.0)   # a frame after every skipped one
    target = Framebuffer((48, 27), samples=1)

    def platform_with_status():
        p = SimulatedPlatform(Timeline(), start_ns=0, view_count=1, view_size=(48, 27),
                              framebuffer_for=lambda i, s: target.draw_fbo)
        p.status = []
        p.set_status = p.status.append
        return p

    platform = platform_with_status()
    summary = output.replay_live(platform, path, start_s=start, seat=2, audio=False)
    assert summary["frames"] > 3 and platform.frames_drawn == summary["frames"]
    assert platform.frames_submitted >= summary["fast_forwarded"] + summary["frames"]
    ahead = [t for t in platform.status if t.startswith(f"fast-forwarding to {start:g} s")]
    assert len(ahead) == summary["fast_forwarded"] and ahead[-1].endswith("%")
    assert f"fast-forwarding to {start:g} s [" in capsys.readouterr().err

    platform = platform_with_status()                 # the window is closed during the jump
    begin = platform.begin_frame

    def closed_after_three():
        frame = begin()
        return replace(frame, exit_requested=True) if platform.frames_submitted >= 3 else frame

    platform.begin_frame = closed_after_three
    summary = output.replay_live(platform, path, start_s=start, seat=2, audio=False)
    assert summary["stopped"] and summary["frames"] == 0 and platform.frames_drawn == 0
    err = capsys.readouterr().err
    assert summary["fast_forwarded"] == 4 and "fast-forwarding" in err and "100.0%" not in err, err


def test_a_headless_replay_from_after_the_last_frame_says_there_is_nothing(live_recording, tmp_path, capsys):
    from xrdemo.replay.output import replay_headless

    path, _calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        last = max(rec.t_ns for rec in r.records() if rec.rtype == R.FRAME)
        start = (last - r.t0_ns) / 1e9 + 0.001
        assert start < r.duration_s
    with pytest.raises(ValueError, match="no frames at or after --start"):
        replay_headless(path, tmp_path / "none.mp4", start_s=start, size=(32, 18))
    assert capsys.readouterr().err.rstrip().endswith("s left")     # the bar ended, nothing after it


def test_replay_stays_exact_through_a_reconnect_that_moves_the_seat(gl, tmp_path):
    """The server restarts mid-meeting and a newcomer takes the recording participant's seat:
    the live loop rebuilds its meeting in the new seat (two reads of the room in one frame); the
    replay follows, frame for frame."""
    import threading

    from xrdemo.app import live_loop
    from xrdemo.net.server import ServerThread
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer

    gl.make_current()
    path = tmp_path / "reseat.xrrec"
    server = [ServerThread(port=0, capacity=3, timeout_s=1.0).start()]
    port = server[0].port
    url = f"127.0.0.1:{port}/move"
    newcomer = []

    def restart():
        time.sleep(0.7)
        server[0].stop()
        server[0] = ServerThread(port=port, capacity=3, timeout_s=1.0).start()
        newcomer.append(Peer(url, "Newcomer", head=(0.0, 1.2, -0.9)).start())

    mp = pytest.MonkeyPatch()
    spy = StepSpy(mp)
    target = Framebuffer((48, 27), samples=1)
    platform = SimulatedPlatform(Timeline(head=lambda t: (np.array([0.0, 1.2, 0.9]), P.quat_from_yaw_pitch_roll(0.0))),
                                 start_ns=0, view_count=1, view_size=(48, 27),
                                 framebuffer_for=lambda i, s: target.draw_fbo)
    begin = platform.begin_frame
    platform.begin_frame = lambda: (time.sleep(0.012), begin())[1]
    helper = threading.Thread(target=restart, daemon=True)
    logs = []
    try:
        helper.start()
        status = live_loop(platform, quiet_config(3), log=logs.append, max_frames=200,
                           table_alignment=NO_ALIGNMENT, join=url, name="Live", record=path)
    finally:
        spy.remove()
        mp.undo()
        helper.join(5)
        for p in newcomer:
            p.close()
        server[0].stop()
    assert status == 0
    assert any("the room moved you from seat 0 to seat" in line for line in logs), logs
    with F.RecordingReader(path) as r:
        kinds = [rec.rtype for rec in r.records()]
        assert kinds.count(R.STATE) == 2 and kinds.count(R.FRAME) == 200
    with F.RecordingReader(path) as r:
        frames = list(Replayer(r).frames())
    assert len(frames) == len(spy.calls) == 200
    for k, (f, (t_live, state_live, scene_live)) in enumerate(zip(frames, spy.calls)):
        assert f.state.local == state_live.local
        assert not scene_differences(f.scene, scene_live), f"frame {k} differs"
    assert frames[0].state.local == 0 and frames[-1].state.local != 0
    assert frames[-1].state.people.present[0]                        # the newcomer, seen in seat 0


def test_a_failing_disk_stops_the_recording_cleanly_and_the_written_part_plays(tmp_path):
    from xrdemo.replay.capture import Recorder

    recs = sample_records(40)
    rec = Recorder(tmp_path / "full.xrrec")
    rec.open({"kind": "participant", "t0_ns": 0})
    real_write, calls = rec.writer._file.write, []

    def failing_write(data):
        calls.append(len(data))
        if len(calls) > 3:
            raise OSError(28, "No space left on device")
        return real_write(data)

    rec.writer.chunk_bytes = 3000
    rec.writer._file.write = failing_write
    for rtype, t, body in recs:
        rec.add(rtype, t, body)                      # never raises on the adding thread
    line = rec.close()
    assert "recording stopped early" in line and "No space left on device" in line and "full.xrrec" in line
    with F.RecordingReader(tmp_path / "full.xrrec") as r:
        got = [(g.rtype, g.t_ns, g.body) for g in r.records()]
        assert "truncated" in str(r.damage)
    assert 10 < len(got) < len(recs) and got == recs[:len(got)]


def test_a_record_that_makes_no_sense_ends_the_replay_there_and_says_so(live_recording, tmp_path):
    """A CRC-valid file with a malformed frame (a bug, or a hand-made file): the frames before it
    play, and the problem names the file and the time."""
    path, calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        recs = [(g.rtype, g.t_ns, g.body) for g in r.records()]
        meta = r.meta
    frame_at = [i for i, (t, _, _) in enumerate(recs) if t == R.FRAME][60]
    rtype, t_ns, body = recs[frame_at]
    recs[frame_at] = (rtype, t_ns, body[:8] + bytes([3, 9, 1]) + body[11:])    # field 3: dtype 9
    bad = write(tmp_path / "bad.xrrec", recs, meta=meta)
    with F.RecordingReader(bad) as r:
        frames = list(Replayer(r).frames())
        damage = r.damage
    assert len(frames) == 60
    assert "frame record" in str(damage) and "malformed" in str(damage) and str(bad) in str(damage)
    assert all(not scene_differences(f.scene, c[2]) for f, c in zip(frames, calls))


def test_a_meeting_without_network_replays_exactly_through_a_table_calibration(gl, tmp_path):
    """`run --record` with scripted people and tracked hands that calibrate the table: the
    meeting is rebuilt on the real table mid-run; the replay rebuilds it at the same frame."""
    from xrdemo.app import live_loop
    from xrdemo.platform.simulated import SimulatedPlatform
    from xrdemo.platform.timeline import Timeline
    from xrdemo.render.renderer import Framebuffer

    def tapping(t_ns):                       # index fingertips tapping a real table top at 0.69 m
        t = t_ns * 1e-9
        k = int(t / 0.6)
        rng = np.random.default_rng(k)
        pos = np.zeros((2, 26, 3))
        for hand, side in ((0, -1), (1, 1)):
            spot = np.array([0.3 + side * rng.uniform(0.1, 0.6), 0.69, 0.2 + rng.uniform(-0.4, 0.4)])
            pos[hand] = spot + [0, max(0.0, 0.1 - (t - 0.6 * k)) * 0.8, 0]
        rot = np.zeros((2, 26, 4))
        rot[..., 3] = 1
        return pos, rot, np.full((2, 26), 0.008)

    gl.make_current()
    mp = pytest.MonkeyPatch()
    spy = StepSpy(mp)
    target = Framebuffer((48, 27), samples=1)
    platform = SimulatedPlatform(Timeline(head=lambda t: (np.array([0.3, 1.2, 1.1]), P.IDENTITY_QUAT.copy()),
                                          hands=tapping, refresh_hz=30.0),
                                 start_ns=0, view_count=1, view_size=(48, 27),
                                 framebuffer_for=lambda i, s: target.draw_fbo)
    path = tmp_path / "calib.xrrec"
    logs = []
    try:
        status = live_loop(platform, quiet_config(5), log=logs.append, max_frames=150, calibrate_table=4.0,
                           table_alignment=tmp_path / "align.json", record=path)
    finally:
        spy.remove()
        mp.undo()
    assert status == 0 and any("real table top at 0.69" in line for line in logs), logs
    with F.RecordingReader(path) as r:
        assert r.meta["config"]["meeting"]["people"] == 5
        frames = list(Replayer(r).frames())
    assert len(frames) == len(spy.calls) == 150
    heights = {round(f.state.table.height, 3) for f in frames}
    assert heights == {0.74, 0.69}, heights                           # rebuilt on the real table
    for k, (f, (t_live, _state, scene_live)) in enumerate(zip(frames, spy.calls)):
        assert f.step_t_ns == t_live and not scene_differences(f.scene, scene_live), f"frame {k}"


@pytest.mark.parametrize("indexed", [True, False])
def test_past_a_damaged_chunk_every_intact_chunk_still_reads(small_file, tmp_path, indexed):
    data, recs = small_file
    with F.RecordingReader(write(tmp_path / "ok.xrrec", recs, chunk_bytes=1500)) as r:
        chunks = list(r.chunks)
        (index_offset,) = struct.unpack_from("<Q", data, len(data) - 16)
    victim = chunks[4]
    bad = bytearray(data if indexed else data[:index_offset])
    bad[victim.offset + 70] ^= 0x04
    path = tmp_path / "bad.xrrec"
    path.write_bytes(bytes(bad))
    with F.RecordingReader(path) as r:
        assert r.indexed == indexed
        got = [(g.rtype, g.t_ns, g.body) for g in r.records(skip_damaged=True)]
        problems = [str(p) for p in r.problems]
    before = sum(c.count for c in chunks[:4])
    assert got == recs[:before] + recs[before + victim.count:]
    assert any(f"at byte {victim.offset}" in p and "CRC" in p for p in problems), problems


def test_a_live_recording_with_a_damaged_chunk_replays_around_it(live_recording, tmp_path):
    path, calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        victim = r.chunks[len(r.chunks) // 2]
    data = bytearray(path.read_bytes())
    data[victim.offset + 100] ^= 0xFF
    bad = tmp_path / "bad.xrrec"
    bad.write_bytes(bytes(data))
    with F.RecordingReader(bad) as r:
        frames = list(Replayer(r).frames())
        problems = list(r.problems)
    assert len(problems) == 1 and f"at byte {victim.offset}" in str(problems[0]) and "skipped" in str(problems[0])
    assert 150 - victim.frames == len(frames) and victim.frames > 0
    lost_from = next(k for k, f in enumerate(frames) if f.step_t_ns != calls[k][0])
    assert all(not scene_differences(f.scene, c[2]) for f, c in zip(frames[:lost_from], calls))
    assert frames[-1].step_t_ns == calls[-1][0]                     # and it plays to the end


def test_a_headset_wearer_is_carried_to_the_seat_they_replay_from(live_recording):
    from xrdemo.core.frame import View
    from xrdemo.replay.output import moved_view, seat_transform

    path, _calls, _logs = live_recording
    with F.RecordingReader(path) as r:
        f = next(Replayer(r).frames())
    state = f.state
    k = state.local
    T = seat_transform(state, k, 3)
    assert seat_transform(state, k, k) is None
    # the wearer at the recorded seat's eye point, looking as that seat looks, ends up at seat 3
    view = moved_view(T, View(state.seat_pos[k], state.seat_rot[k], (-1, 1, 1, -1)))
    assert np.allclose(view.position, state.seat_pos[3]) and abs(abs(np.dot(view.orientation, state.seat_rot[3])) - 1) < 1e-9
    # a step forward at the recorded seat is a step forward at seat 3
    step = P.quat_rotate(state.seat_rot[k], np.array([0, 0, -0.2]))
    view = moved_view(T, View(state.seat_pos[k] + step, state.seat_rot[k], (-1, 1, 1, -1)))
    assert np.allclose(view.position, state.seat_pos[3] + P.quat_rotate(state.seat_rot[3], np.array([0, 0, -0.2])))


def test_a_headless_recording_without_network_replays_to_the_same_pictures(gl, tmp_path):
    """`xrdemo run --platform headless --record` (a scripted meeting on the simulated clock)."""
    from PIL import Image

    from xrdemo.recording import record_meeting
    from xrdemo.replay.output import replay_headless

    cfg = replace(Config(), display=replace(Config().display, width=80, height=45, fps=20))
    cfg = replace(cfg, meeting=replace(cfg.meeting, people=3, seat=1))
    record_meeting(cfg, 1.0, None, frames_dir=tmp_path / "live", progress=False, record=tmp_path / "m.xrrec")
    with F.RecordingReader(tmp_path / "m.xrrec") as r:
        assert r.meta["clock"] == "simulated_ns" and r.meta["t0_ns"] == 0 and r.meta["room"] is None
    out = replay_headless(tmp_path / "m.xrrec", None, frames_dir=tmp_path / "rep", progress=False)
    assert out["frames"] == 20 and out["seat"] == 1 and not out["problems"]
    live, rep = sorted((tmp_path / "live").glob("*.png")), sorted((tmp_path / "rep").glob("*.png"))
    assert len(live) == len(rep) == 20
    assert all(np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b))) for a, b in zip(live, rep))


def test_info_shows_the_name_tags_the_participant_saw(tmp_path, capsys):
    """`replay --info` lists each person with the tags shown on their name (✓ verified, ? not,
    ✗ a known name with a different key), and says what ✗ means; odd VERIFIED values are skipped."""
    from xrdemo.commands.replay import info

    meta = {"kind": "participant", "t0_ns": 0, "room": "r", "server": "127.0.0.1:4733", "seat": 0,
            "capacity": 3, "name": "Ada"}
    path = write(tmp_path / "tags.xrrec", [
        (R.NAMES, 1, R.encode_json(["Ada", "Bob", ""])),
        (R.VERIFIED, 2, R.encode_json([1, 0, 0])),
        (R.VERIFIED, 3, R.encode_json([1, 1, 0])),               # Bob's join checked out later
        (R.NAMES, 4, R.encode_json(["Ada", "Bob", "Eve"])),
        (R.VERIFIED, 5, R.encode_json([1, 1, -1, [7], "x"])),    # Eve: a known name, another key
    ], meta=meta)
    assert info(path) == 0
    out = capsys.readouterr().out
    assert "0: Ada \u2713; 1: Bob ?/\u2713; 2: Eve \u2717" in out, out
    assert "a name the participant knew arrived with a different key" in out


@pytest.mark.parametrize("names, verified", [
    (b"0", b"[1]"), (b'{"a": 1}', b"[1]"), (b'[["Ada"], 7, "Bob"]', b"[1, 1, -1]"),
    (b'["Ada", "Bob"]', b"null"), (b'["Ada", "Bob"]', b"3"), (b'["Ada", "Bob"]', b"not json"),
    (b'["Ada", "Bob"]', b'{"0": 1}'), (b'["Ada", "Bob"]', b"[true, false]"),
])
def test_info_describes_a_file_with_odd_names_or_tags_without_crashing(tmp_path, capsys, names, verified):
    """CRC-valid records with bodies of the wrong shape are skipped by `replay --info`: no traceback,
    no made-up tags (JSON true is not a ✓)."""
    from xrdemo.commands.replay import info

    path = write(tmp_path / "odd.xrrec", [(R.NAMES, 1, names), (R.VERIFIED, 2, verified)],
                 meta={"kind": "participant", "t0_ns": 0, "seat": 0, "capacity": 3})
    assert info(path) == 0
    out = capsys.readouterr().out
    assert "\u2713" not in out, out
    if names == b'[["Ada"], 7, "Bob"]':
        assert "2: Bob \u2717" in out and "Ada" not in out, out
    if verified == b"[true, false]":
        assert "0: Ada; 1: Bob" in out, out

"""`xrdemo record` and `xrdemo run` (auto, headless) as a user runs them: decodable MP4s with the
right frames, size and binaural audio, in sync; PNG frames; metrics; the auto choice explained."""

import json

import av
import numpy as np
import pytest


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
        fps = float(v.average_rate)
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        chunks = [f.to_ndarray() for f in c.decode(a)]
        rate = a.rate
        channels = a.channels if hasattr(a, "channels") else a.codec_context.channels
    audio = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0))
    return frames, fps, audio, rate, channels


def test_record_mp4_frames_size_audio_and_sync(run_xrdemo, tmp_path):
    res = run_xrdemo("record", "--seconds", "2", "--people", "5", "--size", "320x180", "--fps", "15",
                     "--out", "m.mp4", "--metrics", "metrics.json", "--frames-dir", "frames")
    assert res.returncode == 0, res.stderr
    assert "recording [" in res.stderr and "100.0%" in res.stderr      # progress is shown
    frames, fps, audio, rate, channels = probe(tmp_path / "m.mp4")
    assert len(frames) == 30 and fps == 15
    assert frames[0].shape == (180, 320, 3)
    assert rate == 48000 and channels == 2
    video_s = len(frames) / fps
    audio_s = audio.shape[1] / rate
    assert abs(audio_s - video_s) <= 1.0 / fps + 1024 / rate, (audio_s, video_s)   # AAC frame padding
    # binaural: both channels carry sound and they differ (not a copied mono)
    left, right = audio[0], audio[1]
    assert np.sqrt(np.mean(left ** 2)) > 1e-3 and np.sqrt(np.mean(right ** 2)) > 1e-3
    assert np.mean(np.abs(left - right)) > 1e-4
    assert len(list((tmp_path / "frames").glob("frame_*.png"))) == 30
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["frames"] == 30 and metrics["draw_calls_per_view"] <= 8
    for key in ("core_ms", "render_submit_ms", "readback_ms", "audio_block_us"):
        assert metrics[key]["median"] > 0
    assert metrics["audio_underruns"] == 0
    # the picture changes over time (people move), it is not one frame repeated
    assert np.mean(np.abs(frames[0].astype(int) - frames[-1].astype(int))) > 0.5


def test_record_lean_in_whisper_is_louder(run_xrdemo, tmp_path):
    """During the scripted lean-in the neighbour whispers close to the ear: the level rises."""
    res = run_xrdemo("record", "--seconds", "8", "--people", "4", "--size", "64x36", "--fps", "10",
                     "--out", "w.mp4", "--metrics", "m.json", "--quiet")
    assert res.returncode == 0, res.stderr
    window = json.loads((tmp_path / "m.json").read_text())["whisper_window_s"]
    _, _, audio, rate, _ = probe(tmp_path / "w.mp4")
    def rms(t0, t1):
        seg = audio[:, int(t0 * rate):int(t1 * rate)]
        return float(np.sqrt(np.mean(seg ** 2)))
    mid = 0.5 * (window[0] + window[1])
    assert rms(mid - 0.5, mid + 0.5) > 2.0 * rms(0.5, window[0] - 0.5)


def test_run_auto_without_headset_or_display_records(run_xrdemo, tmp_path):
    res = run_xrdemo("run", "--seconds", "1", env={"DISPLAY": "", "WAYLAND_DISPLAY": "",
                                                    "XR_RUNTIME_JSON": str(tmp_path / "none.json")})
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "no headset and no display" in out and "openxr:" in out and "desktop:" in out
    written = list(tmp_path.glob("xrdemo-*.mp4"))        # xrdemo-<login>-<date>-<hhmm>.mp4
    assert len(written) == 1 and f"wrote {written[0].name}" in out
    frames, fps, *_ = probe(written[0])
    assert len(frames) == 30


@pytest.mark.parametrize("args, message, code", [
    (["record", "--seconds", "0"], "--seconds must be between 0 and 3600", 1),
    (["record", "--out", "x.avi"], "must end in .mp4", 1),
    (["record", "--people", "3", "--seat", "3"], "--seat 3 does not exist", 1),
    (["record", "--out", "nodir/x.mp4", "--seconds", "1"], "does not exist", 1),
    (["run", "--platform", "holodeck"], "invalid choice", 2),
    (["record", "--out", "adir.mp4", "--seconds", "1"], "is a folder", 1),
])
def test_bad_recording_arguments(run_xrdemo, tmp_path, args, message, code):
    (tmp_path / "adir.mp4").mkdir()
    res = run_xrdemo(*args)
    assert res.returncode == code and message in res.stderr, res.stderr


def test_config_errors_name_the_key(run_xrdemo, tmp_path):
    (tmp_path / "bad.toml").write_text("[table]\nshape = 'oval'\n")
    res = run_xrdemo("record", "--config", "bad.toml", "--seconds", "1")
    assert res.returncode == 1
    assert "[table].shape = 'oval' is not one of round, rect" in res.stderr
    assert res.stderr.count("\n") == 1


def test_interrupted_recording_keeps_what_was_recorded(xrdemo_cmd, tmp_path):
    """Ctrl-C during a recording: the MP4 is closed properly and plays what was recorded."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen([xrdemo_cmd, "record", "--seconds", "600", "--size", "160x90",
                             "--out", "long.mp4", "--quiet"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not (tmp_path / "long.mp4").exists()
                                           or (tmp_path / "long.mp4").stat().st_size < 20_000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted:" in out and "long.mp4 holds the first" in out, out + err
    frames, fps, audio, rate, _ = probe(tmp_path / "long.mp4")
    assert len(frames) > 10 and audio.shape[1] > 0.5 * rate * len(frames) / fps

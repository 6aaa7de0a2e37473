"""The real live path: the app's LiveMeetingAudio (audio in its own process) playing through
sounddevice on a JACK dummy server (a paced device with no sound card), under CPU load.

The fixture starts jackd before any process that opens PortAudio and stops it after they have
exited (REFERENCE.md). The app-like process is tests/audio/jack_stream_probe.py.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests/audio/jack_stream_probe.py"
BLOCKS_PER_S = 48000 / 256


def run_probe(env, *args, timeout=90):
    result = subprocess.run([sys.executable, str(PROBE), *args], env=dict(env, PYTHONPATH=str(ROOT)),
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stderr


def assert_cleaned_up(stats):
    """No orphan audio process, no shared memory segment left behind."""
    assert not Path(f"/proc/{stats['audio_pid']}").exists() or \
        Path(f"/proc/{stats['audio_pid']}/status").read_text().find("State:\tZ") >= 0
    assert not Path(f"/dev/shm/{stats['channel']}").exists()


def test_live_meeting_audio_on_jack_has_no_underruns_under_cpu_load(jack_server):
    stats, stderr = run_probe(jack_server, "3")
    assert stats["callbacks"] > 0.8 * 3 * BLOCKS_PER_S, stats   # the device really paced ~562 blocks
    assert stats["underruns"] == 0, stats
    assert stats["device_underruns"] == 0 and stats["ring_underruns"] == 0, stats
    assert stats["process"] == "stopped" and "JACK" in stats["device"], stats
    assert stats["fifo_frames"] >= stats["ahead"] * 256   # rendered ahead into PortAudio's FIFO
    assert stats["load_loops"] > 0.8 * 3 * 90, stats      # the busy 90 Hz "render loop" really ran
    assert stats["process_loops"] > 100, stats            # and so did the second busy process
    assert stats["filter_updates"] > 100, stats           # head poses flowed into the audio process
    assert stats["level_max"] > 0.1, stats                # voice levels flowed back, for everyone
    assert stats["render_us_max"] > 0 and stats["added_latency_ms"] <= 16.0, stats
    assert len(stats["log"]) == 2 and "playing on" in stats["log"][0], stats
    assert stats["log"][1] == f"audio: played {stats['callbacks']} blocks, 0 underruns", stats
    assert "Traceback" not in stderr, stderr
    assert_cleaned_up(stats)


def test_underrun_counter_sees_a_render_too_slow_for_the_device(jack_server):
    """The same run with every block 6 ms late (> the 5.33 ms period) must count underruns."""
    stats, _ = run_probe(jack_server, "1.5", "--render-delay-ms", "6", "--no-load")
    assert stats["underruns"] > 10, stats
    assert stats["underrun_at"][0] >= stats["ahead"], stats
    assert_cleaned_up(stats)


def test_ctrl_c_stops_the_app_and_its_audio_process_cleanly(jack_server):
    proc = subprocess.Popen([sys.executable, str(PROBE), "--until-sigint"],
                            env=dict(jack_server, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out + err
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["interrupted"] and stats["process"] == "stopped", stats
    assert stats["callbacks"] > 0.5 * BLOCKS_PER_S, stats
    assert "Traceback" not in err and "leaked" not in err, err
    assert_cleaned_up(stats)


def test_audio_process_death_is_reported_once_and_the_meeting_carries_on(jack_server, monkeypatch):
    from xrdemo.loop.live_audio import LiveMeetingAudio

    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack_server["JACK_DEFAULT_SERVER"])
    lines = []
    audio = LiveMeetingAudio(4, 0, log=lines.append)
    try:
        assert audio.device and "JACK" in audio.device, lines
        heads = np.array([[0.0, 1.2, 1.0], [1.0, 1.2, 0.0], [0.0, 1.2, -1.0], [-1.0, 1.2, 0.0]])
        speaking = np.array([False, True, True, True])
        rot = np.array([0.0, 0.0, 0.0, 1.0])
        deadline = time.monotonic() + 10
        while audio.level.max() < 0.1 and time.monotonic() < deadline:
            audio.publish(heads[0], rot, heads, heads, speaking)
            time.sleep(1 / 90)
        assert audio.level.max() >= 0.1   # levels come back from the audio process
        # and the mouth shapes of the voices as played (visemes, computed in the audio path)
        deadline = time.monotonic() + 5
        seen = np.zeros((4, 5))
        while time.monotonic() < deadline and not (seen[1:].max(axis=1) > 0.2).all():
            audio.publish(heads[0], rot, heads, heads, speaking)
            seen = np.maximum(seen, audio.mouth)
            time.sleep(1 / 90)
        assert (seen[1:].max(axis=1) > 0.2).all() and seen[0].max() == 0.0, seen
        pid, channel = audio.process.process.pid, audio.process.channel.name
        os.kill(pid, signal.SIGKILL)
        for _ in range(3 * audio.CHECK_EVERY):
            audio.publish(heads[0], rot, heads, heads, speaking)
            time.sleep(0.005)
        assert audio.device is None and np.all(audio.level == 0.0)
        died = [line for line in lines if "stopped unexpectedly" in line]
        assert len(died) == 1 and "carrying on without sound" in died[0], lines
        assert audio.stats()["process"] == "died"
    finally:
        audio.close()
    audio.close()   # idempotent
    assert not Path(f"/dev/shm/{channel}").exists()


def test_a_killed_app_leaves_no_orphan_audio_process_nor_shared_memory(jack_server):
    """SIGKILL gives the app no chance to clean up: the audio process notices its parent is gone
    and exits; the multiprocessing resource tracker removes the shared memory."""
    proc = subprocess.Popen([sys.executable, str(PROBE), "--until-sigint", "--no-load"],
                            env=dict(jack_server, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        segments = [f for f in os.listdir("/dev/shm") if f.startswith(f"xrdemo-audio-{proc.pid}-")]
        assert len(children) >= 2 and len(segments) == 1   # audio process + resource tracker
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (any(Path(f"/proc/{c}").exists() for c in children)
                                               or Path(f"/dev/shm/{segments[0]}").exists()):
            time.sleep(0.05)
        assert not any(Path(f"/proc/{c}").exists() for c in children), children
        assert not Path(f"/dev/shm/{segments[0]}").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

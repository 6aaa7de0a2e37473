"""The live loop with real audio I/O: spatial voices out and the microphone in, on a JACK dummy
server (no sound card), as a headset or desktop session runs them."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_live_loop_plays_voices_and_meters_the_microphone(jack_server):
    res = subprocess.run([sys.executable, str(ROOT / "tests/app/live_probe.py"), "3"],
                         env=dict(jack_server, PYTHONPATH=str(ROOT)), capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    logs = "\n".join(out["logs"])
    assert out["status"] == 0
    assert "microphone: listening" in logs, logs
    assert "audio: played" in logs and "the meeting is silent" not in logs, logs
    line = out["status_line"]
    assert "mic: [" in line and "dB" in line and "audio: none" not in line, line

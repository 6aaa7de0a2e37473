"""Issue 16, item 8: bad input that used to escape as tracebacks or unclear messages gets one
clear line (the real ``xrdemo`` command in a subprocess)."""

import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

LONG_HOST = "a" * 3000


@pytest.mark.parametrize("args, message, code", [
    (["record", "--size", "641x361", "--seconds", "1"], "--size 641x361: video sizes must be even on both sides (try 642x362)", 1),
    (["record", "--size", "17x17", "--seconds", "1"], "(try 18x18)", 1),
    (["replay", "none.xrrec", "--size", "641x361"], "video sizes must be even", 1),
    (["record", "--fps", "0", "--seconds", "1"], "--fps must be between 1 and 240, not 0", 1),
    (["record", "--frames-dir", "nodir/f", "--out", "", "--seconds", "1"], "--frames-dir nodir/f: folder", 1),
    (["replay", "none.xrrec", "--frames-dir", "nodir/f"], "--frames-dir nodir/f: folder", 1),
    (["replay", "none.xrrec", "--start", "nan"], "argument --start: expected a finite number, not 'nan'", 2),
    (["record", "--seconds", "inf"], "argument --seconds: expected a finite number", 2),
    (["serve", "--timeout", "nan"], "argument --timeout: expected a finite number, not 'nan'", 2),
    (["serve", "--timeout", "inf"], "argument --timeout: expected a finite number, not 'inf'", 2),
    (["snapshot", "--seed", "-1"], "--seed must be a whole number from 0", 1),
    (["run", "--platform", "headless", "--join", f"{LONG_HOST}/r", "--seconds", "1"],
     "host name is 3000 characters long (at most 253)", 1),
    (["run", "--platform", "headless", "--join", f"nats://{LONG_HOST}/r", "--seconds", "1"], "too long", 1),
    (["run", "--config", "afolder", "--seconds", "1"], "config file afolder is a folder", 1),
    (["config", "--check", "odd.toml"], "[display] width x height = 641x360: video sizes must be even", 1),
    (["record", "--config", "odd.toml", "--seconds", "1"], "video sizes must be even", 1),
    (["id", "--identity", "enc.key"], "is encrypted with a passphrase", 1),
])
def test_bad_input_gets_one_clear_line(run_xrdemo, tmp_path, args, message, code):
    (tmp_path / "afolder").mkdir()
    (tmp_path / "odd.toml").write_text("[display]\nwidth = 641\n")
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"))
    (tmp_path / "enc.key").write_bytes(key)
    os.chmod(tmp_path / "enc.key", 0o600)
    res = run_xrdemo(*args, timeout=60)
    assert res.returncode == code, res.stderr
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1, res.stderr
    assert not (tmp_path / "nodir").exists()                # nothing made at the top of a bad path

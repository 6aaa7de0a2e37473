"""Configuration files: defaults, the example round-trips, and every error names its key."""

import pytest

from xrdemo.config import EXAMPLE, Config, ConfigError, load_config


def write(tmp_path, text, name="c.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_no_file_gives_defaults():
    assert load_config(None) == Config()


def test_example_is_valid_and_applies(tmp_path):
    cfg = load_config(write(tmp_path, EXAMPLE))
    assert cfg.meeting.names[0] == "Ada" and cfg.table.shape == "round"
    cfg = load_config(write(tmp_path, '[table]\nshape = "rect"\nwidth = 3.0\n[meeting]\npeople = 9\nseat = 8\n'))
    assert cfg.table.shape == "rect" and cfg.table.width == 3.0 and cfg.meeting.people == 9
    assert cfg.room == Config().room          # untouched sections keep defaults


@pytest.mark.parametrize("text, message", [
    ("[tabel]\nshape='round'", r"unknown section \[tabel\] \(did you mean 'table'\?\)"),
    ("[table]\nshpe = 'round'", r"unknown key \[table\].shpe \(did you mean 'shape'\?\)"),
    ("[table]\nshape = 'oval'", r"\[table\].shape = 'oval' is not one of round, rect"),
    ("[table]\nradius = 'big'", r"\[table\].radius must be a number, not 'big'"),
    ("[table]\nheight = 3.0", r"\[table\].height = 3.0 is out of range"),
    ("[meeting]\npeople = 2.5", r"\[meeting\].people must be a whole number"),
    ("[meeting]\npeople = 3\nseat = 3", r"\[meeting\].seat = 3 does not exist with people = 3"),
    ("[meeting]\nnames = [1, 2]", r"\[meeting\].names must be a list of strings"),
    ("[audio]\nenabled = 'yes'", r"\[audio\].enabled must be true or false"),
    ("audio = 3", r"\[audio\] must be a table of keys"),
    ("[room\nwidth = 3", r"not valid TOML"),
])
def test_errors_name_the_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    p = tmp_path / "bin.toml"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not a UTF-8 text file|not valid TOML"):
        load_config(p)


def test_config_command_example_round_trips(tmp_path):
    import contextlib
    import io

    from xrdemo.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["config", "--example"]) == 0
    (tmp_path / "ex.toml").write_text(buf.getvalue())
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["config", "--check", str(tmp_path / "ex.toml")]) == 0
    assert "ok" in buf.getvalue() and "Grace" in buf.getvalue()

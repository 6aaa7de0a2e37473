"""Issue 15 item 8: every default that `--help` states is the one the code uses, every example in
the help parses, and the descriptions say what the code does. Fails when a default drifts.

How: each option's help text is read for "(default ...)". A plain value must equal argparse's
default; "config or V" must go with an argparse default of None and a Config field whose default
is V; every other wording is listed below with the check that holds it to the code. An option with
a default that its help does not state fails too.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from xrdemo.cli import EXAMPLES, SUBCOMMAND_MODULES, build_parser
from xrdemo.config import Config

CONFIG_FIELDS = {
    "--people": lambda c: str(c.meeting.people),
    "--seat": lambda c: str(c.meeting.seat),
    "--seed": lambda c: str(c.meeting.seed),
    "--fps": lambda c: str(c.display.fps),
    "--size": lambda c: f"{c.display.width}x{c.display.height}",
    "--table": lambda c: c.table.shape,
}


def _default_name_pattern(help_text: str) -> str:
    """'xrdemo-<name>-<date>-<hhmm>.mp4' in a help -> a regex for what default_output makes."""
    m = re.search(r"(xrdemo-<[^>]+>-<date>-<hhmm>\.\w+)", help_text)
    assert m, help_text
    return re.escape(m.group(1)).replace(re.escape("<date>"), r"\d{4}-\d\d-\d\d") \
        .replace(re.escape("<hhmm>"), r"\d{4}").replace(re.escape("<name>"), "NAME") \
        .replace(re.escape("<login name>"), "LOGIN")


def check_default_output(help_text: str, suffix: str, person_from_name: bool):
    from xrdemo.outputs import default_output, file_safe, login_name

    pattern = _default_name_pattern(help_text).replace("NAME", "Ada").replace("LOGIN", re.escape(file_safe(login_name())))
    made = default_output(suffix, person="Ada" if person_from_name else None).name
    assert re.fullmatch(pattern, made), (pattern, made)
    assert "numbered -2, -3" in help_text


def check_headless_seconds(monkeypatch, tmp_path):
    """app.run records HEADLESS_SECONDS when --seconds is not given."""
    from xrdemo import app, recording
    from xrdemo.commands.run import HEADLESS_SECONDS

    seen = {}

    def fake_record(cfg, secs, out, **kw):
        seen["secs"] = secs
        return {"frames": 0, "audio": False}
    monkeypatch.setattr(recording, "record_meeting", fake_record)
    app.run("headless", Config(), seconds=None, recording=tmp_path / "x.mp4", log=lambda *a: None)
    assert seen["secs"] == HEADLESS_SECONDS


def check_login_name(monkeypatch, tmp_path):
    """run --join without --name joins as the login name, on every platform (headless included)."""
    from xrdemo import app, outputs
    from xrdemo.cli import main

    seen = {}
    monkeypatch.setattr(outputs, "login_name", lambda: "ada_login")
    monkeypatch.setattr(app, "run", lambda platform, cfg, **kw: seen.update(kw) or 0)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--platform", "headless", "--join", "127.0.0.1/team"]) == 0
    assert seen["name"] == "ada_login"
    assert seen["recording"].name.startswith("xrdemo-ada_login-")


# Defaults stated in words: (command, option) -> the check (None: prose about a recording's own
# content, held by tests/e2e/test_replay_cli.py and test_net_cli.py).
PROSE = {
    ("run", "--seat"): "config",   # "config or 0; with --join ..."
    ("run", "--seconds"): "headless_seconds",
    ("run", "--video"): "default_output_name",
    ("run", "--table-alignment"): "alignment",
    ("run", "--join"): "port",
    ("run", "--name"): "login",
    ("run", "--identity"): None,
    ("snapshot", "--out"): "default_output_login",
    ("snapshot", "--seat"): "config",
    ("record", "--out"): "default_output_login",
    ("id", "--identity"): None,
    ("replay", "--seat"): None,
    ("replay", "--video"): "replay_name",
    ("replay", "--size"): "replay_size",
    ("replay", "--fps"): None,
    ("serve", "--host"): "value",
    ("serve", "--port"): "value",
}


def subcommands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def option_cases():
    for name, sp in subcommands().items():
        for action in sp._actions:
            if action.option_strings and action.option_strings[0] not in ("-h",):
                yield pytest.param(name, action, id=f"{name} {action.option_strings[0]}")


def _as_value(text: str, default):
    if isinstance(default, bool):
        return {"true": True, "false": False}[text]
    if isinstance(default, (int, float)):
        return type(default)(float(text))
    if isinstance(default, tuple):
        return tuple(int(v) for v in text.split("x"))
    return type(default)(text)


@pytest.mark.parametrize("command, action", list(option_cases()))
def test_every_stated_default_is_the_code_default(command, action, monkeypatch, tmp_path):
    option = action.option_strings[0]
    text = " ".join((action.help or "").split())
    stated = re.search(r"\(default:? ([^);]+)", text)
    if isinstance(action, (argparse._StoreTrueAction, argparse._VersionAction)):
        assert stated is None or "false" in stated.group(1)
        return
    key = (command, option)
    if stated is None:
        assert action.default is None, f"{command} {option}: default {action.default!r} is not in its help"
        return
    words = stated.group(1).strip()
    config = re.fullmatch(r"config or (\S+)", words)
    if config:
        assert action.default is None, f"{command} {option}: 'config or' needs argparse default None"
        assert CONFIG_FIELDS[option](Config()) == config.group(1), f"{command} {option}: config default differs"
        return
    check = PROSE.get(key, "value")
    if check == "value":
        value = words.split(":")[0].split(" ")[0]
        assert action.default is not None and _as_value(value, action.default) == action.default, \
            f"{command} {option}: help says {value!r}, code says {action.default!r}"
    elif check == "config":
        m = re.match(r"config or (\S+?)(;|$)", words)
        assert m and action.default is None and CONFIG_FIELDS[option](Config()) == m.group(1)
    elif check == "headless_seconds":
        from xrdemo.commands.run import HEADLESS_SECONDS

        assert f"{HEADLESS_SECONDS:g} for a headless recording" in text
        check_headless_seconds(monkeypatch, tmp_path)
    elif check == "default_output_name":
        check_default_output(text, ".mp4", person_from_name=True)
    elif check == "default_output_login":
        check_default_output(text, ".png" if command == "snapshot" else ".mp4", person_from_name=False)
    elif check == "alignment":
        from xrdemo.alignment import default_alignment_path

        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))
        assert default_alignment_path() == tmp_path / ".config" / "xrdemo" / "table-alignment.json"
        assert words == "~/.config/xrdemo/table-alignment.json"
    elif check == "port":
        from xrdemo.net.protocol import DEFAULT_PORT

        assert words == f"port {DEFAULT_PORT}"
    elif check == "login":
        assert words == "your login name"
        check_login_name(monkeypatch, tmp_path)
    elif check == "replay_name":
        assert words.startswith("FILE's name + -replay.mp4")
        import inspect

        from xrdemo.commands import replay

        assert '"-replay.mp4"' in inspect.getsource(replay.run)
    elif check == "replay_size":
        assert words.endswith(f"{Config().display.width}x{Config().display.height}")
    else:
        assert check is None and key in PROSE


def test_prose_list_has_no_stale_entries():
    options = {(name, a.option_strings[0]) for name, sp in subcommands().items() for a in sp._actions
               if a.option_strings}
    assert set(PROSE) <= options


def _example_lines(text: str):
    """The indented command lines of a help text (its examples), comments and redirections cut."""
    for line in text.splitlines():
        if line.startswith("  xrdemo"):
            yield line.split(" #")[0].split(" > ")[0].strip()


def _parse_example(line: str):
    words = shlex.split(line)
    assert words[0] == "xrdemo"
    try:
        return build_parser().parse_args(words[1:]) if len(words) > 1 else None
    except SystemExit as exc:        # --help and --version exit 0
        if exc.code:
            raise


def test_top_level_help_has_an_example_for_every_command():
    text = build_parser().format_help()
    assert "examples:" in text and EXAMPLES.splitlines()[1] in text
    lines = list(_example_lines(EXAMPLES))
    used = {shlex.split(line)[1] for line in lines if len(shlex.split(line)) > 1}
    assert len(lines) >= 10
    assert used == set(subcommands()), set(subcommands()) - used


@pytest.mark.parametrize("module", SUBCOMMAND_MODULES + ["xrdemo.cli"])
def test_every_example_in_the_help_parses(module, capsys):
    import importlib

    mod = importlib.import_module(module)
    parser = build_parser() if module == "xrdemo.cli" else None
    text = parser.format_help() if parser else "\n".join(
        sp.format_help() for name, sp in subcommands().items() if sp.prog.split()[-1] in _commands_of(mod))
    for line in _example_lines(text):
        try:
            _parse_example(line)
        except SystemExit:
            pytest.fail(f"{module}: example does not parse: {line}\n{capsys.readouterr().err}")


def _commands_of(mod) -> set:
    """The subcommand names a module registers."""
    names = set()

    class Recorder:
        def add_parser(self, name, **kw):
            names.add(name)
            return argparse.ArgumentParser(add_help=False)
    mod.register(Recorder())
    return names


def test_readme_usage_lines_parse():
    """README's 'Using it' block, optional [parts] dropped and a|b choices reduced to the first."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Using it", 1)[1].split("```", 2)[1]
    count = 0
    for line in block.splitlines():
        line = line.strip().replace(".venv/bin/", "")
        if not line.startswith("xrdemo"):
            continue
        line = re.sub(r"\[[^\]]*\]", "", line.split(" #")[0].split(" > ")[0])
        line = re.sub(r"(\w+)\|[\w|]+", r"\1", line).replace("HOST[:PORT]/ROOM", "h/r").replace("HOST/ROOM", "h/r")
        try:
            _parse_example(line)
        except SystemExit:
            pytest.fail(f"README usage line does not parse: {line}")
        count += 1
    assert count >= 10


def test_audio_demo_whisperer_is_on_the_left_as_its_help_says():
    """The description says the person on your left leans in: seat 4's voice, rendered for the
    listener at the moment of the whisper, is louder in the left ear."""
    from xrdemo.audio.engine import SpatialAudioEngine, head_relative
    from xrdemo.commands.audio_demo import BLOCK, SAMPLE_RATE, TableScene

    parser = subcommands()["audio-demo"]
    assert "person on your left leans in" in " ".join(parser.description.split())
    scene = TableScene(10.0)
    t = 9.0                                                    # fully leaning in
    heads = scene.speaker_heads(t)
    assert np.linalg.norm(heads[4] - scene.seats[4]) > 0.3     # seat 4 is the one leaning
    pos, rot = scene.listener_pose(t)
    direction = head_relative(pos, rot, heads[4:5]).direction[0]
    assert direction[0] < -0.15                                # head frame: x is right
    engine = SpatialAudioEngine(SAMPLE_RATE, BLOCK, kernel="numpy")
    engine.set_sources(heads[1:])
    engine.set_listener(pos, rot)
    noise = np.random.default_rng(0).standard_normal((4, BLOCK)).astype(np.float32)
    noise[:3] = 0.0                                            # only seat 4 talks
    out = np.concatenate([engine.process(noise).copy() for _ in range(8)])
    left, right = np.sqrt(np.mean(out[BLOCK:] ** 2, axis=0))
    assert left > 2.0 * right


def test_record_description_neighbour_side_matches_the_script():
    """record's help says the recorded person leans toward the neighbour on their right."""
    from xrdemo.core import scene as S
    from xrdemo.scripted_viewer import ScriptedViewer

    assert "neighbour on their right" in " ".join(subcommands()["record"].description.split())
    state = S.make_meeting(6, local=0)
    viewer = ScriptedViewer(state, 20.0)
    seat, neighbour = state.seat_pos[0], state.seat_pos[viewer.neighbour]
    facing = -seat[[0, 2]] / np.linalg.norm(seat[[0, 2]])       # toward the table centre
    right = np.array([-facing[1], facing[0]])                  # y up: right of facing (x, z) is (-z, x)
    assert float(np.dot(neighbour[[0, 2]] - seat[[0, 2]], right)) > 0


"""Configuration: a TOML file (``--config``) validated into dataclasses, with errors naming the key.

Every section and key is optional; anything left out keeps its default. Unknown keys are
errors (with a suggestion), so a typo never silently does nothing. ``xrdemo config --example``
prints a complete, commented file.
"""

from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from .validate import video_size

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration problem; the message names the file and the key."""


@dataclass(frozen=True)
class RoomConfig:
    width: float = 7.0          # metres, along x
    depth: float = 6.0          # metres, along z
    height: float = 2.9         # metres, floor to ceiling


@dataclass(frozen=True)
class TableConfig:
    shape: str = "round"        # "round" or "rect"
    radius: float = 0.9         # metres (round tables)
    width: float = 2.4          # metres, along x (rect tables)
    depth: float = 1.2          # metres, along z (rect tables)
    height: float = 0.74        # metres, floor to the top surface


@dataclass(frozen=True)
class MeetingConfig:
    people: int = 6             # everyone at the table, you included (1-16 scripted; up to 64)
    seat: int = 0               # your seat (0..people-1)
    seed: int = 1               # seeds the scripted conversation, gaze and gestures
    names: tuple = ()           # display names by seat; missing ones become "Guest N"


@dataclass(frozen=True)
class AudioConfig:
    enabled: bool = True        # spatial voices on or off
    sample_rate: int = 48000    # Hz
    block: int = 256            # samples per block (5.33 ms at 48 kHz)
    reflections: bool = False   # early reflection off the table plane
    output: str = "auto"        # "auto" (sound card, else silent), "null", or a device name
    start_muted: bool = False   # join with the microphone muted (its audio never leaves the machine)
    push_to_talk: bool = False  # the microphone is open only while the talk key is held


@dataclass(frozen=True)
class DisplayConfig:
    refresh_rate: float = 0.0   # Hz to ask a headset for (72/90/120); 0 keeps the runtime's
    passthrough: bool = False   # show the real room on headsets that can (Quest 3)
    width: int = 640            # pixels per eye for recordings and snapshots
    height: int = 360
    fps: int = 30               # frames per second of recordings


@dataclass(frozen=True)
class AvatarsConfig:
    torso: bool = True          # seated shoulders and chest; false: heads and hands only


@dataclass(frozen=True)
class Config:
    room: RoomConfig = field(default_factory=RoomConfig)
    table: TableConfig = field(default_factory=TableConfig)
    meeting: MeetingConfig = field(default_factory=MeetingConfig)
    audio: AudioConfig = field(default_factory=AudioConfig)
    display: DisplayConfig = field(default_factory=DisplayConfig)
    avatars: AvatarsConfig = field(default_factory=AvatarsConfig)


_RULES = {
    ("room", "width"): (0.5, 50.0), ("room", "depth"): (0.5, 50.0), ("room", "height"): (1.8, 20.0),
    ("table", "radius"): (0.2, 5.0), ("table", "width"): (0.4, 10.0), ("table", "depth"): (0.4, 5.0),
    ("table", "height"): (0.4, 1.3),
    ("meeting", "people"): (1, 64), ("meeting", "seed"): (0, 2**63 - 1),
    ("audio", "sample_rate"): (8000, 192000), ("audio", "block"): (32, 4096),
    ("display", "refresh_rate"): (0.0, 240.0), ("display", "width"): (16, 8192),
    ("display", "height"): (16, 8192), ("display", "fps"): (1, 240),
}
_CHOICES = {("table", "shape"): ("round", "rect")}


def load_config(path: str | Path | None) -> Config:
    """Read and validate a TOML file; None gives the defaults."""
    if path is None:
        return Config()
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {path} does not exist")
    if path.is_dir():
        raise ConfigError(f"config file {path} is a folder; give the TOML file in it")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    cfg = config_from_dict(data, source=str(path))
    try:               # a file a person wrote: its video size must suit the encoder (recordings
        video_size(cfg.display.width, cfg.display.height,   # of PNG frames may hold odd ones)
                   f"{path}: [display] width x height =")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return cfg


def config_from_dict(data: dict, source: str = "config") -> Config:
    """Validate a parsed TOML document into a Config; ConfigError names source and key."""
    sections = {f.name: f for f in fields(Config)}
    out = Config()
    for name, value in data.items():
        if name not in sections:
            raise ConfigError(f"{source}: unknown section [{name}]{_suggest(name, sections)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table of keys, not a {type(value).__name__}")
        section_default = getattr(out, name)
        out = replace(out, **{name: _section(section_default, name, value, source)})
    m = out.meeting
    if not 0 <= m.seat < m.people:
        raise ConfigError(f"{source}: [meeting].seat = {m.seat} does not exist with people = {m.people} "
                          f"(use 0..{m.people - 1})")
    if len(m.names) > m.people:
        raise ConfigError(f"{source}: [meeting].names lists {len(m.names)} names for {m.people} people")
    return out


def _section(default, section: str, values: dict, source: str):
    known = {f.name: f for f in fields(default)}
    updates = {}
    for key, value in values.items():
        where = f"{source}: [{section}].{key}"
        if key not in known:
            raise ConfigError(f"{source}: unknown key [{section}].{key}{_suggest(key, known)}")
        want = type(getattr(default, key))
        updates[key] = _coerce(value, want, where, (section, key))
    return replace(default, **updates)


def _coerce(value, want, where, rule_key):
    if want is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if want in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                (want is int and not isinstance(value, int)):
            kind = "a whole number" if want is int else "a number"
            raise ConfigError(f"{where} must be {kind}, not {value!r}")
        lo, hi = _RULES.get(rule_key, (None, None))
        if lo is not None and not lo <= value <= hi:
            raise ConfigError(f"{where} = {value} is out of range ({lo}..{hi})")
        return want(value)
    if want is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, not {value!r}")
        choices = _CHOICES.get(rule_key)
        if choices and value not in choices:
            raise ConfigError(f"{where} = {value!r} is not one of {', '.join(choices)}")
        return value
    if want is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where} must be a list of strings")
        return tuple(value)
    raise ConfigError(f"{where}: unsupported setting type")  # pragma: no cover


def _suggest(name: str, options) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(options)})"


EXAMPLE = """\
# xrdemo configuration (every key optional; defaults shown)
[room]
width = 7.0          # metres
depth = 6.0
height = 2.9

[table]
shape = "round"      # "round" or "rect"
radius = 0.9         # metres, round tables
width = 2.4          # metres, rect tables
depth = 1.2
height = 0.74        # floor to top surface

[meeting]
people = 6           # you included
seat = 0             # your seat
seed = 1             # the scripted meeting
names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken"]

[audio]
enabled = true
sample_rate = 48000
block = 256
reflections = false  # early reflection off the table
output = "auto"      # "auto", "null" or a sound device name
start_muted = false  # join muted: the microphone's audio never leaves this machine
push_to_talk = false # the microphone is open only while the talk key is held

[display]
refresh_rate = 0     # 72/90/120 on headsets that allow it; 0 = runtime default
passthrough = false  # Quest 3: see your real room
width = 640          # recording/snapshot pixels per eye
height = 360
fps = 30             # recording frame rate

[avatars]
torso = true         # seated shoulders and chest; false = heads and hands only
"""

"""Output files that never collide: default names that carry the person and the time, and one
function (``claim_output``) that every command writing a file (run, record, replay, snapshot) uses.

- A default name looks like ``xrdemo-Ada-2026-12-06-1612.mp4`` (login or display name, local time
  to the minute). If that file exists — or another program claims it in the same instant — the
  next free ``-2``, ``-3``, ... is taken.
- A name the user gave is never replaced silently: if it exists, the command stops with one line
  saying so, unless ``--overwrite`` was given.
- Claiming creates the file empty with ``O_CREAT | O_EXCL`` (atomic on every local file system), so
  two programs started together in one folder cannot both pick the same name; the writer then
  fills the file it owns. ``claimed`` removes a claimed file that is still empty when the command
  ends (it failed, or never needed it).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path

PREFIX = "xrdemo"
MAX_NUMBER = 999


def login_name() -> str:
    """The login name of the person running this, else "guest" (the default display name)."""
    import getpass

    try:
        return getpass.getuser() or "guest"
    except Exception:   # no USER / LOGNAME and no passwd entry (containers)
        return "guest"


def file_safe(name: str) -> str:
    """A person's name as a file-name part: letters, digits, '.', '_' and '-' kept (any script),
    anything else becomes '-', at most 32 characters; "guest" if nothing is left."""
    part = re.sub(r"[^\w.-]+", "-", str(name), flags=re.UNICODE).strip("-.")
    return part[:32] or "guest"


def default_output(suffix: str, person: str | None = None, when: float | None = None,
                   folder: str | Path = ".") -> Path:
    """``folder/xrdemo-<person>-<YYYY-MM-DD-HHMM><suffix>``: person defaults to the login name,
    when (seconds since the epoch) to now, in local time."""
    stamp = time.strftime("%Y-%m-%d-%H%M", time.localtime(time.time() if when is None else when))
    return Path(folder) / f"{PREFIX}-{file_safe(person or login_name())}-{stamp}{suffix}"


def numbered(path: Path, k: int) -> Path:
    """``name.mp4`` -> ``name-k.mp4`` (k >= 2); k = 1 is the name itself."""
    return path if k <= 1 else path.with_name(f"{path.stem}-{k}{path.suffix}")


def claim_output(path: str | Path, *, default: bool, overwrite: bool = False, flag: str = "--out") -> Path:
    """Reserve the file an output will be written to and return its path.

    default: the name was made by ``default_output`` (or a command's own default): take the next
    free numbered name. Otherwise the user chose it: an existing file raises FileExistsError with
    one line naming ``flag`` (unless overwrite). A missing folder raises FileNotFoundError, a
    folder given as the file IsADirectoryError."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{flag} {path} is a folder; give a file name such as {path / ('meeting' + (path.suffix or '.mp4'))}")
    folder = path.parent
    if not folder.exists():
        raise FileNotFoundError(f"folder {folder} does not exist (for {flag} {path})")
    if not default:
        if path.exists() and not overwrite:
            raise FileExistsError(f"{path} exists; give another {flag} name, or add --overwrite to replace it")
        return path
    for k in range(1, MAX_NUMBER + 1):
        candidate = numbered(path, k)
        try:
            fd = os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(f"{path} and {MAX_NUMBER - 1} numbered names after it all exist; give {flag}")


@contextlib.contextmanager
def claimed(path: Path | None):
    """Around the work that writes ``path``: remove it afterwards if it is still empty (the work
    failed before writing, or turned out not to need the file). None passes through."""
    try:
        yield path
    finally:
        if path is not None:
            with contextlib.suppress(OSError):
                if path.is_file() and path.stat().st_size == 0:
                    path.unlink()

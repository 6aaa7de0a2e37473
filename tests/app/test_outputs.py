"""Outputs never collide (xrdemo/outputs.py): default names carry the person and the time, a taken
default name gets the next number, a name the user gave is never replaced silently, and two programs
claiming at once in one folder get two files."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

import pytest

from xrdemo import outputs as O


def test_default_name_carries_person_and_local_time(tmp_path):
    when = time.mktime((2026, 12, 6, 16, 12, 30, 0, 0, -1))
    assert O.default_output(".mp4", person="Ada", when=when, folder=tmp_path) == \
        tmp_path / "xrdemo-Ada-2026-12-06-1612.mp4"
    assert O.default_output(".png", when=when).name == f"xrdemo-{O.file_safe(O.login_name())}-2026-12-06-1612.png"


@pytest.mark.parametrize("name, part", [("Ada", "Ada"), ("Ada Lovelace", "Ada-Lovelace"),
                                        ("../../etc/passwd", "etc-passwd"), ("Zoë", "Zoë"),
                                        ("a:b*c?", "a-b-c"), ("   ", "guest"), ("x" * 50, "x" * 32)])
def test_file_safe(name, part):
    assert O.file_safe(name) == part


def test_login_name_is_never_empty(monkeypatch):
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: (_ for _ in ()).throw(OSError("no user")))
    assert O.login_name() == "guest"


def test_a_taken_default_name_gets_the_next_number(tmp_path):
    base = tmp_path / "xrdemo-Ada-2026-12-06-1612.mp4"
    base.write_bytes(b"old")
    first = O.claim_output(base, default=True)
    second = O.claim_output(base, default=True)
    assert first.name == "xrdemo-Ada-2026-12-06-1612-2.mp4" and second.name == "xrdemo-Ada-2026-12-06-1612-3.mp4"
    assert base.read_bytes() == b"old" and first.exists() and first.stat().st_size == 0


def test_a_given_name_that_exists_is_refused_in_one_line_unless_overwrite(tmp_path):
    given = tmp_path / "meeting.mp4"
    assert O.claim_output(given, default=False) == given and not given.exists()
    given.write_bytes(b"old")
    with pytest.raises(FileExistsError, match=r"meeting.mp4 exists; give another --out name, or add --overwrite"):
        O.claim_output(given, default=False)
    assert O.claim_output(given, default=False, overwrite=True) == given
    assert given.read_bytes() == b"old"          # claiming never touches a given file


def test_missing_folder_and_folder_as_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        O.claim_output(tmp_path / "no" / "x.mp4", default=True)
    (tmp_path / "d.mp4").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        O.claim_output(tmp_path / "d.mp4", default=False)


def test_claimed_removes_an_unused_claim_and_keeps_a_written_one(tmp_path):
    path = O.claim_output(tmp_path / "a.mp4", default=True)
    with pytest.raises(RuntimeError):
        with O.claimed(path):
            raise RuntimeError("failed before writing")
    assert not path.exists()
    path = O.claim_output(tmp_path / "a.mp4", default=True)
    with O.claimed(path):
        path.write_bytes(b"data")
    assert path.read_bytes() == b"data"


def _claim_many(folder: str, start, count: int, queue) -> None:
    start.wait()
    queue.put([O.claim_output(Path(folder) / "xrdemo-Ada-2026-12-06-1612.mp4", default=True).name
               for _ in range(count)])


def test_two_programs_claiming_at_once_never_share_a_name(tmp_path):
    ctx = mp.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_claim_many, args=(str(tmp_path), start, 20, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    names = queue.get(timeout=60) + queue.get(timeout=60)
    for p in procs:
        p.join(30)
    assert len(names) == 40 and len(set(names)) == 40
    assert sorted(os.listdir(tmp_path)) == sorted(names)

"""Fixtures for the core tests: long seeded meetings taped once per test session.

``tape6`` and ``tape10``: 20-minute meetings of 6 and 10 scripted people at 60 Hz, recorded as
drawn (xrdemo/testing/meeting_tape.py); ~30 s each to make, shared by every statistics test.
"""

import pytest

from xrdemo.testing.meeting_tape import record_tape


@pytest.fixture(scope="session")
def tape6():
    return record_tape(6, seed=11, minutes=20.0, fps=60)


@pytest.fixture(scope="session")
def tape10():
    return record_tape(10, seed=12, minutes=20.0, fps=60, table="rect")

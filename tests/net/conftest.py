"""Fixtures shared by the networking tests: an embedded room server and quick-liveness clients."""

import pytest

from xrdemo.net.client import NetClient
from xrdemo.net.server import ServerThread

FAST = dict(keepalive_s=0.1, timeout_s=1.0)   # client liveness settings for quick tests


@pytest.fixture
def server():
    srv = ServerThread(port=0, timeout_s=1.0).start()
    yield srv
    srv.stop()


@pytest.fixture
def clients():
    """make(port, name, room="r", **NetClient options) -> a NetClient, closed after the test."""
    made = []

    def make(port, name, room="r", **kw):
        c = NetClient("127.0.0.1", port, room, name, **{**FAST, **kw})
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()

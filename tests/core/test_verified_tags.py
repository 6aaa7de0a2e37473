"""Name tags carry who is verified in a networked meeting (✓ / ? / ✗), from RemoteInput.verified."""

import numpy as np

from xrdemo.core import scene as S

FRAME = 33_333_333


def _meeting(n=4):
    return S.make_meeting(n, local=0, scripted=np.zeros(n, bool), present=np.ones(n, bool))


def _remote(n, verified=None):
    rem = S.RemoteInput.empty(n)
    rem.verified = None if verified is None else np.array(verified, np.int8)
    return rem


def test_tags_show_the_mark_of_each_person():
    st = _meeting()
    names = st.people.names
    st, fs = S.step(st, S.LocalInput(remote=_remote(4, [1, 1, 0, -1])), 0)
    assert fs.labels.texts == (f"✓ {names[1]}", f"? {names[2]}", f"✗ {names[3]}")
    flagged = fs.labels.colors[2, :3]
    assert flagged[0] > 3 * flagged[1] and flagged[0] > 3 * flagged[2]        # a red tag
    assert np.array_equal(st.people.verified, [1, 1, 0, -1])


def test_flags_persist_and_change_with_the_network():
    st = _meeting()
    st, _ = S.step(st, S.LocalInput(remote=_remote(4, [1, 0, 0, 0])), 0)
    st, fs = S.step(st, S.LocalInput(remote=_remote(4)), FRAME)               # no news: kept
    assert fs.labels.texts[0].startswith("? ")
    st, fs = S.step(st, S.LocalInput(remote=_remote(4, [1, 1, 1, 0])), 2 * FRAME)
    assert [t[0] for t in fs.labels.texts] == ["✓", "✓", "?"]


def test_meetings_without_identities_have_plain_names():
    st = _meeting()
    st, fs = S.step(st, S.LocalInput(remote=_remote(4)), 0)
    assert fs.labels.texts == st.people.names[1:]
    assert S.tag_text("Ada", None) == "Ada" and S.tag_text("Ada", 1) == "✓ Ada"

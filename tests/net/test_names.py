"""Issue 16, item 5: names that cannot be stolen. The registry cannot be flushed by churn (it
refuses new names when full instead of forgetting, and persists across restarts); new names are
rate-limited per key and per address; look-alikes (UTS #39 skeletons), invisible names and
characters the name tags cannot draw are refused."""

import numpy as np
import pytest

from xrdemo.net import identity as I
from xrdemo.net import names as N
from xrdemo.net.server import ServerThread

from netutil import raw_join

LOOSE = {"key": (1000.0, 1000.0), "address": (1000.0, 1000.0)}


@pytest.mark.parametrize("a, b", [("Bill", "BiIl"), ("Al", "AI"), ("Ada", "ADA"), ("Ada", " ada "),
                                  ("Tim", "Tirn"), ("l0l", "lOl"), ("Ian", "ian"), ("Ian", "lan"),
                                  ("x|y", "x1y")])
def test_look_alikes_share_a_key(a, b):
    assert N.name_keys(a) & N.name_keys(b)


@pytest.mark.parametrize("a, b", [("Ada", "Adb"), ("Bill", "Bil"), ("Al", "Ali")])
def test_different_names_do_not(a, b):
    assert not N.name_keys(a) & N.name_keys(b)


@pytest.mark.parametrize("name, why", [(" ", "visible"), ("   ", "visible"), ("\u3164", "U+3164"),
                                       ("Ad\u0430", "U+0430"), ("Ada\u200b", "U+200B"), ("Jos\u00e9", "U+00E9"),
                                       ("", "1 or more"), ("x" * 65, "at most 64")])
def test_invisible_and_undrawable_names_are_refused(name, why):
    assert why in N.name_problem(name)


def test_the_tags_draw_every_character_a_name_may_hold():
    """Every accepted character is a real glyph of the tags' font (not the missing-glyph box),
    and characters outside are not (so TAG_CHARACTERS must grow with the font)."""
    from PIL import ImageFont

    from xrdemo.render.labels import FONT_PX

    font = ImageFont.load_default(size=FONT_PX)

    def glyph(ch):
        m = font.getmask(ch)
        return m.size, bytes(m)
    missing = glyph("\U000f0000")                             # a private-use character: no glyph
    assert all(glyph(ch) != missing for ch in N.TAG_CHARACTERS - {" "})
    outside = [chr(c) for c in np.random.default_rng(1).integers(0xA0, 0x3000, 300)]
    undrawn = [ch for ch in outside if ch not in N.TAG_CHARACTERS and ch.isprintable() and not ch.isspace()]
    assert undrawn and all(glyph(ch) == missing for ch in undrawn)


def _answer(port, name, identity=None, cid="cafe0001"):
    sock, answer = raw_join(port, name=name, client_id=cid, identity=identity)
    return sock, answer


def test_server_refuses_look_alikes_of_present_and_known_names_and_undrawable_ones():
    with ServerThread(port=0, timeout_s=2.0) as srv:
        bill = I.Identity.generate()
        s1, w = _answer(srv.port, "Bill", bill)
        assert w["type"] == "welcome"
        for fake in ("BiIl", "BILL", "Bi1l"):
            s, a = _answer(srv.port, fake)
            assert a["type"] == "error" and a["code"] == "name_taken", a
            assert "looks like" in a["message"] or "belongs" in a["message"]
            s.close()
        s1.close()                                             # Bill leaves: his name is known
        s, a = _answer(srv.port, "BiIl")
        assert a["code"] == "name_taken"
        s.close()
        s, a = _answer(srv.port, "Bi\u0456l")                   # Cyrillic i: the tags cannot draw it
        assert a["code"] == "bad_name" and "U+0456" in a["message"]
        s.close()
        for invisible in (" ", "\u3164"):
            s, a = _answer(srv.port, invisible)
            assert a["code"] == "bad_name", a
            s.close()
        s, a = _answer(srv.port, "BiIl", bill, cid="cafe0002")   # the owner may use a look-alike
        assert a["type"] == "welcome"
        s.close()
        assert srv.stats()["refused"]["name_taken"] == 4


def test_churn_cannot_flush_a_name_the_registry_refuses_new_ones_when_full():
    with ServerThread(port=0, timeout_s=2.0, max_names=40, name_rates=LOOSE) as srv:
        ada = I.Identity.generate()
        s, a = _answer(srv.port, "Ada", ada)
        s.close()
        filler = I.Identity.generate()
        refused = 0
        for i in range(40):                                   # 2 keys per name: fills at ~19 names
            s, a = _answer(srv.port, f"filler{i}", filler, cid=f"f{i:07x}")
            refused += a.get("code") == "name_limit"
            s.close()
        assert refused > 0
        s, a = _answer(srv.port, "Ada")                        # the attacker: still Ada's
        assert a["code"] == "name_taken"
        s.close()
        s, a = _answer(srv.port, "Ada", ada)
        assert a["type"] == "welcome"
        s.close()


def test_new_names_are_rate_limited_per_key_and_per_address():
    rates = {"key": (1e-6, 3.0), "address": (1e-6, 5.0)}
    with ServerThread(port=0, timeout_s=2.0, name_rates=rates) as srv:
        one = I.Identity.generate()
        codes = []
        for i in range(4):
            s, a = _answer(srv.port, f"one{i}", one, cid=f"a{i:07x}")
            codes.append(a.get("code", "ok"))
            s.close()
        assert codes == ["ok", "ok", "ok", "name_rate"]           # 3 per key
        s, a = _answer(srv.port, "one0", one, cid="a0000009")       # a name it has: fine
        assert a["type"] == "welcome"
        s.close()
        codes = []
        for i in range(4):                                      # new keys, same address: 2 left
            s, a = _answer(srv.port, f"other{i}", cid=f"b{i:07x}")
            codes.append(a.get("code", "ok"))
            s.close()
        assert codes == ["ok", "ok", "name_rate", "name_rate"]
        assert "try again in" in a["message"]


def test_names_survive_a_restart_with_a_names_file(tmp_path):
    path = tmp_path / "names.jsonl"
    ada = I.Identity.generate()
    with ServerThread(port=0, timeout_s=2.0, names_path=path) as srv:
        s, a = _answer(srv.port, "Ada", ada)
        assert a["type"] == "welcome"
        s.close()
    with open(path, "a") as f:
        f.write('{"keys": ["torn')                             # a torn last line is skipped
    with ServerThread(port=0, timeout_s=2.0, names_path=path) as srv:
        assert srv.server.names.bad_lines == 1
        s, a = _answer(srv.port, "ADA")
        assert a["code"] == "name_taken"
        s.close()
        s, a = _answer(srv.port, "Ada", ada)
        assert a["type"] == "welcome"
        s.close()
        s, a = _answer(srv.port, "Grace")                      # appended after the torn line
        s.close()
    assert [line.startswith('{"keys"') for line in path.read_text().splitlines()] == [True, True, True]
    assert N.NameRegistry(path).owner("GRACE") is not None

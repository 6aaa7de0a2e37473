"""Display names: which ones a server accepts, and when two of them are the same name.

- **Drawable**: a name may only hold characters the name tags can draw (``TAG_CHARACTERS``: the
  glyphs of the font ``render/labels.py`` draws tags with — Pillow's built-in font, printable
  ASCII and a few marks). A name the tags would show as boxes could hide a look-alike, so it is
  refused rather than shown wrong. ``tests/net/test_names.py`` renders every accepted character
  with that font and checks it is a real glyph, so the two cannot drift apart.
- **Visible**: after NFKC and collapsing white space, something other than space must remain.
- **Same name**: two names are one name when their keys (``name_keys``) meet: NFKC, white space
  collapsed, case folded, and Unicode's confusable *skeleton* (UTS #39, section 4: NFD, each
  character replaced by its prototype from confusables.txt, NFD again) taken both before and after
  case folding, so "Bill" / "BiIl", "Al" / "AI", "rn" / "m", "ADA" / "ada" are one name.

Data: ``CONFUSABLES`` is the part of Unicode's confusables.txt, version 14.0.0 (2021-05-29;
https://www.unicode.org/Public/security/14.0.0/confusables.txt, © Unicode, Inc., under the
Unicode License, https://www.unicode.org/license.txt) whose source characters are in
``TAG_CHARACTERS``: the only mappings a drawable name can meet. If the tags' font grows, widen
``TAG_CHARACTERS`` and regenerate the table with ``scripts/confusables_subset.py
confusables.txt`` (it prints the dict).
"""

from __future__ import annotations

import unicodedata

# Code point ranges (inclusive) the name tags' font draws.
TAG_RANGES = ((0x20, 0x7E), (0xA9, 0xA9), (0xAB, 0xAB), (0xB0, 0xB1), (0xB4, 0xB4), (0xB7, 0xB7),
              (0xBB, 0xBB), (0x2018, 0x2019), (0x201C, 0x201D), (0x2026, 0x2026), (0x2039, 0x203A),
              (0x2044, 0x2044), (0x2122, 0x2122))
TAG_CHARACTERS = frozenset(chr(c) for lo, hi in TAG_RANGES for c in range(lo, hi + 1))

# source -> prototype, from Unicode confusables.txt 14.0.0 (see the module docstring).
CONFUSABLES = {
    "\u2026": "...", "\u2018": "'", "\u2019": "'", "`": "'", "\u00b4": "'", '"': "''",
    "\u201c": "''", "\u201d": "''", "\u2044": "/", "\u2039": "<", "\u203a": ">", "|": "l",
    "1": "l", "I": "l", "0": "O", "%": "\u00ba/\u2080", "m": "rn",
}

MAX_NAME = 64


def skeleton(text: str) -> str:
    """UTS #39 skeleton of text (NFD, prototypes, NFD) over the CONFUSABLES table."""
    nfd = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(CONFUSABLES.get(ch, ch) for ch in nfd))


def _collapse(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split())


def name_keys(name: str) -> frozenset:
    """The keys a name is known by: two names are the same (or confusable) when their keys meet."""
    base = _collapse(name)
    return frozenset((skeleton(base).casefold(), skeleton(base.casefold())))


def name_problem(name) -> str | None:
    """Why a display name is refused (one line), or None when it is fine."""
    if not isinstance(name, str) or not name:
        return "a name must be 1 or more characters"
    if len(name) > MAX_NAME:
        return f"a name must be at most {MAX_NAME} characters"
    bad = sorted({ch for ch in name if ch not in TAG_CHARACTERS})
    if bad:
        shown = ", ".join(f"U+{ord(ch):04X}" + (f" {ch!r}" if ch.isprintable() else "") for ch in bad[:4])
        return (f"the name tags cannot draw {shown}: names use letters, digits and punctuation "
                "of plain ASCII")
    if not _collapse(name):
        return "a name must have something visible in it, not only spaces"
    return None


class NameRegistry:
    """Which identity key owns which name on a server: name key (``name_keys``) -> Ed25519 public
    key. Nothing is ever forgotten to make room: when ``max_keys`` are held, new names are
    refused (``full``) and old owners keep theirs. With a ``path`` every claim is appended to
    that file (one JSON object a line: ``{"keys": [...], "owner": base64, "name": ...}``) and
    read back at start, so a restart forgets nobody.
    """

    def __init__(self, path=None, max_keys: int = 400_000):
        from pathlib import Path

        self.path = Path(path) if path is not None else None
        self.max_keys = max_keys
        self.by_key: dict = {}
        self.bad_lines = 0
        self._torn = False             # the file's last line has no end (a crash mid-write)
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        import base64
        import json

        text = self.path.read_text(encoding="utf-8", errors="replace")
        self._torn = bool(text) and not text.endswith("\n")
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                owner = base64.b64decode(entry["owner"], validate=True)
                keys = [str(k) for k in entry["keys"]]
            except (ValueError, KeyError, TypeError):
                self.bad_lines += 1          # a torn last line after a crash: skipped, counted
                continue
            for k in keys:
                self.by_key.setdefault(k, owner)

    def owner(self, name: str) -> bytes | None:
        for k in name_keys(name):
            owner = self.by_key.get(k)
            if owner is not None:
                return owner
        return None

    @property
    def full(self) -> bool:
        return len(self.by_key) + 2 > self.max_keys

    def claim(self, name: str, owner: bytes) -> bool:
        """Record that ``owner`` uses ``name``; True when that was new here."""
        new = {k for k in name_keys(name) if k not in self.by_key}
        if not new:
            return False
        for k in new:
            self.by_key[k] = owner
        self._append(sorted(new), owner, name)
        return True

    def learn(self, key: str, owner: bytes) -> bool:
        """A name key another server saw first (NATS): kept unless known here or full."""
        if key in self.by_key or len(self.by_key) >= self.max_keys:
            return False
        self.by_key[key] = owner
        self._append([key], owner, None)
        return True

    def _append(self, keys: list, owner: bytes, name: str | None) -> None:
        if self.path is None:
            return
        import base64
        import json

        line = json.dumps({"keys": keys, "owner": base64.b64encode(owner).decode(), "name": name},
                          ensure_ascii=False)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(("\n" if self._torn else "") + line + "\n")
        self._torn = False

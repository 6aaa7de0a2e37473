"""Who is who in a networked meeting: a key pair per user, signed joins, session keys, replay guards.

- ``Identity``: an Ed25519 key pair. ``load_or_create_identity()`` keeps it in the user's config
  directory (``$XRDEMO_IDENTITY``, else ``$XDG_CONFIG_HOME/xrdemo/identity.key``, else
  ``~/.config/xrdemo/identity.key``) as an unencrypted PKCS#8 PEM file of mode 0600; a file that
  others can read is refused (``chmod 600`` it), a corrupt one is named and never overwritten.
- ``fingerprint(public)``: 8 groups of 4 hex digits (128 bits of SHA-256 of the public key),
  the form people compare by voice or on screen.
- Joining (see docs/identity.md): the server sends a random challenge; the client signs
  ``join_statement(...)`` (protocol version, challenge, room, name, client_id, its ephemeral
  X25519 key) with its identity; the server and every peer check it with ``verify_join``.
- ``session_keys``: both ends do X25519 between their ephemeral keys and expand the shared
  secret with HKDF-SHA256 (salt: the challenge) into one key per direction; each datagram
  then carries ``protocol.datagram_mac`` under the key of its direction.
- ``ReplayWindow``: accepts each (seq, t_ms) of one stream once, rejects old ones.
- ``KnownPeople``: trust on first use — the name -> fingerprint pairs this user has met, in a
  JSON file beside the identity; a known name with another key is a mismatch.

The cryptography comes from the ``cryptography`` package (OpenSSL); everything else is stdlib.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import secrets
import stat
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

IDENTITY_ENV = "XRDEMO_IDENTITY"
IDENTITY_FILE = "identity.key"
KNOWN_PEOPLE_FILE = "known_people.json"
KEY_BYTES = 32            # Ed25519 and X25519 public keys
SIG_BYTES = 64            # Ed25519 signatures
CHALLENGE_BYTES = 32
SESSION_KEY_BYTES = 32    # per direction
STATEMENT_TAG = "xrdemo-join"
HKDF_INFO = b"xrdemo session keys v2"
PAIR_INFO = b"xrdemo whisper pair v1"   # HKDF info prefix of the keys two members share

VERIFIED, UNVERIFIED, FLAGGED = 1, 0, -1
"""Trust of a person in the room: their join is signed and their name matches what this user
knew (or is new); no valid signature; or a name this user knows with a different key."""


# --- encoding ----------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    """Bytes -> standard base64 text (what the control messages carry)."""
    return base64.b64encode(data).decode("ascii")


def unb64(text, size: int) -> bytes:
    """Base64 text -> exactly ``size`` bytes; ValueError otherwise (wrong type, bad text, size)."""
    if not isinstance(text, str) or len(text) > 4 * size:
        raise ValueError(f"expected base64 of {size} bytes")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise ValueError(f"expected base64 of {size} bytes") from None
    if len(raw) != size:
        raise ValueError(f"expected base64 of {size} bytes, got {len(raw)}")
    return raw


def fingerprint(public: bytes) -> str:
    """A public key's fingerprint: '8F3A 1C22 ...' (8 groups of 4 upper-case hex digits)."""
    digest = hashlib.sha256(public).hexdigest()[:32].upper()
    return " ".join(digest[i:i + 4] for i in range(0, 32, 4))


def normalize_name(name: str) -> str:
    """The form names are compared in (NFKC, case-folded, inner spaces collapsed): 'Ada ' and
    'ADA' are the same name. (Look-alike letters from other scripts are not folded.)"""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


# --- the key pair ------------------------------------------------------------------------------
class Identity:
    """An Ed25519 key pair. ``public``: 32 bytes; ``path``: the file it came from (or None)."""

    def __init__(self, private: Ed25519PrivateKey, path: Path | None = None):
        self._private = private
        self.public = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)
        self.path = path

    @staticmethod
    def generate() -> "Identity":
        """A new random key pair, kept in memory only."""
        return Identity(Ed25519PrivateKey.generate())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, data: bytes) -> bytes:
        """64-byte Ed25519 signature of data."""
        return self._private.sign(data)

    def pem(self) -> bytes:
        """The private key as PKCS#8 PEM (what the identity file holds)."""
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())


def default_identity_path(env=None) -> Path:
    """$XRDEMO_IDENTITY, else $XDG_CONFIG_HOME/xrdemo/identity.key, else ~/.config/xrdemo/..."""
    env = os.environ if env is None else env
    if env.get(IDENTITY_ENV):
        return Path(env[IDENTITY_ENV]).expanduser()
    base = Path(env["XDG_CONFIG_HOME"]).expanduser() if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "xrdemo" / IDENTITY_FILE


def _check_private_folder(folder: Path, what: str) -> None:
    """Refuse a folder others can write to (they could replace or delete the file) or one owned
    by another user; a sticky world-writable folder like /tmp is refused too (the file's
    neighbours are strangers)."""
    if os.name != "posix" or not folder.exists():
        return
    st = folder.stat()
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid():
        raise PermissionError(f"{what} folder {folder} belongs to another user; keep it in a folder "
                              "of your own (e.g. ~/.config/xrdemo)")
    if mode & 0o022:
        raise PermissionError(f"{what} folder {folder} can be written by other users (mode {mode:04o}), "
                              f"who could replace the file; make it private with: chmod 700 {folder} "
                              "(or keep the file in a folder of your own)")


def _check_private_mode(path: Path) -> None:
    if os.name != "posix":
        return
    if not path.is_file():
        raise ValueError(f"identity file {path} is not a file; give the path of a key file "
                         "(it is made there on first use)")
    st = path.stat()
    if st.st_uid != os.getuid():
        raise PermissionError(f"identity file {path} belongs to another user; it is not yours to use")
    _check_private_folder(path.parent, "identity")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise PermissionError(f"identity file {path} can be read by other users (mode {mode:04o}); "
                              f"anyone who copies it can be you. Make it private with: chmod 600 {path} "
                              "(or, if it may have been copied, delete it and let xrdemo make a new one)")


def load_identity(path: Path) -> Identity:
    """Read an identity file (FileNotFoundError, PermissionError or ValueError naming the file)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"identity file {path} does not exist")
    _check_private_mode(path)
    data = path.read_bytes()
    if b"ENCRYPTED" in data[:200]:
        raise ValueError(f"identity file {path} is encrypted with a passphrase, which xrdemo cannot "
                         "ask for; use an unencrypted key (openssl pkey -in FILE -out NEW, then "
                         "chmod 600 NEW), or move it away to make a new identity")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:             # encrypted in a form without the PEM marker
        raise ValueError(f"identity file {path} is encrypted with a passphrase, which xrdemo cannot "
                         "ask for; use an unencrypted key") from None
    except ValueError:
        raise ValueError(f"identity file {path} is damaged or not an xrdemo identity (no readable "
                         "PEM private key in it); "
                         "it was left as it is: move it away to make a new identity "
                         "(others who know you will then see a different fingerprint)") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"identity file {path} holds a {type(key).__name__}, not an Ed25519 key")
    return Identity(key, path)


def load_or_create_identity(path: Path | None = None) -> tuple[Identity, bool]:
    """The user's identity from ``path`` (default: ``default_identity_path()``), created with
    mode 0600 (its directory 0700) when missing. Returns (identity, created)."""
    path = Path(path) if path is not None else default_identity_path()
    if path.exists():
        return load_identity(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _check_private_folder(path.parent, "identity")
    ident = Identity.generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:                      # made meanwhile by another xrdemo: use that one
        return load_identity(path), False
    with os.fdopen(fd, "wb") as f:
        f.write(ident.pem())
    ident.path = path
    return ident, True


# --- the signed join ---------------------------------------------------------------------------
def join_statement(version: int, challenge: bytes, room: str, name: str, client_id: str,
                   eph_public: bytes) -> bytes:
    """The bytes a join signature covers: a JSON array (unambiguous field boundaries)."""
    fields = [STATEMENT_TAG, int(version), b64(challenge), room, name, client_id.lower(), b64(eph_public)]
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def hello_message(identity: Identity, version: int, challenge: bytes, eph_public: bytes, room: str,
                  name: str, client_id: str, want_seat: int | None = None, profile: dict | None = None,
                  udp_port: int | None = None) -> dict:
    """The ``hello`` control message answering ``challenge``, signed by identity."""
    statement = join_statement(version, challenge, room, name, client_id, eph_public)
    return {"type": "hello", "v": version, "room": room, "name": name, "client_id": client_id,
            "want_seat": want_seat, "profile": profile or {}, "udp_port": udp_port,
            "key": b64(identity.public), "eph": b64(eph_public), "sig": b64(identity.sign(statement))}


def verify_join(public: bytes, signature: bytes, statement: bytes) -> bool:
    """True when signature is public's Ed25519 signature of statement."""
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, statement)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


@dataclass(frozen=True)
class SessionKeys:
    """Datagram MAC keys of one session: ``up`` (client -> server), ``down`` (server -> client)."""
    up: bytes
    down: bytes


class Ephemeral:
    """A one-session X25519 key pair (``public``: 32 bytes)."""

    def __init__(self):
        self._private = X25519PrivateKey.generate()
        self.public = self._private.public_key().public_bytes(serialization.Encoding.Raw,
                                                              serialization.PublicFormat.Raw)

    def pair_keys(self, peer_public: bytes, context: bytes) -> tuple[bytes, bytes]:
        """(send, receive) 32-byte keys shared with one peer whose session X25519 key is
        ``peer_public`` (from its signed join, so bound to its identity): X25519 between the two
        session keys, HKDF-SHA256 with both public keys (in byte order) and ``context`` (the room)
        in the info, one key per direction. The server, which knows neither private key, cannot
        derive them. ValueError for a malformed or degenerate peer key."""
        if peer_public == self.public:
            raise ValueError("a pair key needs two different session keys")
        shared = self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        low, high = sorted((self.public, peer_public))
        okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
                   info=PAIR_INFO + low + high + context).derive(shared)
        return (okm[:32], okm[32:]) if self.public == low else (okm[32:], okm[:32])

    def session_keys(self, peer_public: bytes, challenge: bytes, client_public: bytes,
                     server_public: bytes) -> SessionKeys:
        """The keys both ends derive (ValueError for a malformed or degenerate peer key)."""
        shared = self._private.exchange(X25519PublicKey.from_public_bytes(peer_public))
        okm = HKDF(algorithm=hashes.SHA256(), length=2 * SESSION_KEY_BYTES, salt=challenge,
                   info=HKDF_INFO + client_public + server_public).derive(shared)
        return SessionKeys(up=okm[:SESSION_KEY_BYTES], down=okm[SESSION_KEY_BYTES:])


# --- replay guard ------------------------------------------------------------------------------
class ReplayWindow:
    """Accepts each datagram of one stream (one sender, one kind) at most once.

    seq: uint16 counter of the stream; t_ms: the sender's uint32 millisecond clock. A datagram
    is refused when its seq was seen already, is more than ``size`` behind the newest, or its
    t_ms is more than ``max_age_ms`` behind the newest (a replay from before a seq wrap).
    Reordering within the window is fine.
    """

    def __init__(self, size: int = 64, max_age_ms: int = 3000):
        self.size, self.max_age_ms = size, max_age_ms
        self._top = None          # newest seq (uint16)
        self._bits = 0            # bit i set: seq top - i was seen
        self._t_newest = 0

    def accept(self, seq: int, t_ms: int) -> bool:
        if self._top is None:
            self._top, self._bits, self._t_newest = seq, 1, t_ms
            return True
        if _ms_diff(t_ms, self._t_newest) < -self.max_age_ms:
            return False
        d = ((seq - self._top + 0x8000) & 0xFFFF) - 0x8000
        if d > 0:
            self._bits = ((self._bits << d) | 1) & ((1 << self.size) - 1)
            self._top = seq
        elif -d >= self.size:
            return False
        else:
            bit = 1 << -d
            if self._bits & bit:
                return False
            self._bits |= bit
        if _ms_diff(t_ms, self._t_newest) > 0:
            self._t_newest = t_ms
        return True


def _ms_diff(a: int, b: int) -> int:
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000


# --- trust on first use ------------------------------------------------------------------------
class KnownPeople:
    """name -> fingerprint of the people this user has met (TOFU), kept in a JSON file.

    path: the file (None: in memory only). ``check(name, fp)`` returns "new" (remembered from
    now on), "known" (same key as before) or "mismatch" (this name came with another key before;
    the old entry is kept). Thread-safe; the file is rewritten atomically, mode 0600.
    """

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._people: dict[str, dict] = {}
        if self.path is not None and self.path.exists():
            if os.name == "posix":
                _check_private_folder(self.path.parent, "known-people")
                st = self.path.lstat()
                if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o022:
                    raise PermissionError(f"known-people file {self.path} is not a private file of yours "
                                          "(others could change whom you trust); fix with: chmod 600 "
                                          f"{self.path}, or move it away")
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                people = data["people"]
                if not isinstance(people, dict) or not all(
                        isinstance(v, dict) and isinstance(v.get("fingerprint"), str) for v in people.values()):
                    raise ValueError("bad entries")
            except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                raise ValueError(f"known-people file {self.path} is damaged ({exc}); "
                                 "fix or move it (it was left as it is)") from None
            self._people = people

    @staticmethod
    def beside(identity: Identity) -> "KnownPeople":
        """The known-people file next to identity's file (in memory for a file-less identity)."""
        return KnownPeople(identity.path.with_name(KNOWN_PEOPLE_FILE) if identity.path else None)

    def get(self, name: str) -> str | None:
        with self._lock:
            entry = self._people.get(normalize_name(name))
        return entry["fingerprint"] if entry else None

    def entries(self) -> list[tuple[str, str]]:
        """(name as first seen, fingerprint) of everyone remembered, sorted by name."""
        with self._lock:
            return sorted((e.get("name", k), e["fingerprint"]) for k, e in self._people.items())

    def check(self, name: str, fp: str) -> str:
        key = normalize_name(name)
        with self._lock:
            entry = self._people.get(key)
            if entry is not None:
                return "known" if entry["fingerprint"] == fp else "mismatch"
            self._people[key] = {"name": name, "fingerprint": fp,
                                 "first_seen": datetime.datetime.now(datetime.timezone.utc)
                                 .isoformat(timespec="seconds")}
            self._save()
        return "new"

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"version": 1, "people": self._people}, f, indent=1, ensure_ascii=False)
            os.replace(tmp, self.path)
        except OSError:
            pass          # a read-only config directory: trust still works for this session

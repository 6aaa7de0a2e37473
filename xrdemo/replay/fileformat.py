"""The meeting recording file (``.xrrec``): a versioned, CRC-checked, seekable container.

Byte layout (all integers little-endian; docs/replay.md has the full description)::

    header   magic b"\\x89XRDREC\\n" | version u16 | flags u16 | meta_len u32
    meta     meta_len bytes of UTF-8 JSON | crc32 u32 (of version..meta)
    chunk*   b"\\x89XRC" | kind u8 | codec u8 | reserved u16 | t_first_ns i64 | t_last_ns i64
             | count u32 | frames u32 | stored_len u32 | raw_len u32 | crc32 u32 | body
    trailer  index_offset u64 | b"\\x89XRDEND\\n"        (only in a cleanly closed file)

A ``records`` chunk's body (zlib-compressed when codec is 1) holds ``count`` records, each
``type u8 | body_len u32 | t_ns i64 | body``. The last chunk is the ``index`` (kind 2): one entry
per records chunk (offset u64, t_first_ns i64, t_last_ns i64, count u32, frames u32); the trailer
points at it. Every chunk starts with the same sync marker and carries its own CRC-32 (over its
header fields and stored body), so a file without its index (the writer was killed) is read by
scanning chunk by chunk, and damage is found and reported at the byte where it starts.

Times (``t_ns``) are on the recording machine's monotonic clock, nanoseconds; ``meta["t0_ns"]``
is the start. Records' meanings live in ``records.py``; this module only stores bytes.

Why one long module (~500 lines): the writer and the reader are the two sides of one byte
layout (chunks, index, CRCs) and must change together.
"""

from __future__ import annotations

import json
import os
import queue
import struct
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

FORMAT_VERSION = 1
MAGIC = b"\x89XRDREC\n"
CHUNK_MAGIC = b"\x89XRC"
END_MAGIC = b"\x89XRDEND\n"
SUFFIX = ".xrrec"

KIND_RECORDS = 1
KIND_INDEX = 2
CODEC_STORED = 0
CODEC_ZLIB = 1

_HEADER = struct.Struct("<8sHHI")                 # magic, version, flags, meta_len
_CRC = struct.Struct("<I")
_CHUNK = struct.Struct("<4sBBHqqIIIII")           # magic .. crc (crc last)
_RECORD = struct.Struct("<BIq")                   # type, body_len, t_ns
_INDEX_ENTRY = struct.Struct("<QqqII")            # offset, t_first, t_last, count, frames
_TRAILER = struct.Struct("<Q8s")

MAX_META = 1 << 20
MAX_CHUNK = 64 << 20                               # bytes of one chunk body (stored or raw)
MAX_RECORD = 16 << 20


class RecordingError(ValueError):
    """A file that is not a recording, or is damaged. ``path``, ``offset`` (bytes) and ``what``
    say where and what; str() is one line naming all three."""

    def __init__(self, path, offset: int | None, what: str):
        self.path, self.offset, self.what = str(path), offset, what
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"{path}: {what}{where}")


class NewerFormatError(RecordingError):
    """The file was written by a newer xrdemo whose format this one cannot read."""

    def __init__(self, path, version: int):
        self.version = version
        super().__init__(path, None, f"made by a newer xrdemo: format {version}, this reads up to "
                                     f"{FORMAT_VERSION} (update xrdemo to play it)")


@dataclass(frozen=True)
class Record:
    """One stored record: ``rtype`` (records.py names them), ``t_ns`` (recording clock), body."""

    rtype: int
    t_ns: int
    body: bytes


@dataclass(frozen=True)
class ChunkInfo:
    """Where a records chunk is and what it spans: byte offset, first/last record time, records,
    and how many of them are frames (records.FRAME_TYPES)."""

    offset: int
    t_first_ns: int
    t_last_ns: int
    count: int
    frames: int


def _chunk_crc(kind, codec, reserved, t_first, t_last, count, frames, stored_len, raw_len,
               stored: bytes) -> int:
    """CRC-32 of a chunk's header fields (sync marker and CRC excluded) and stored body."""
    head = _CHUNK.pack(CHUNK_MAGIC, kind, codec, reserved, t_first, t_last, count, frames, stored_len,
                       raw_len, 0)[4:-4]
    return zlib.crc32(stored, zlib.crc32(head))


def encode_records(records) -> bytes:
    """Records -> the raw bytes of a chunk body."""
    parts = []
    for r in records:
        parts.append(_RECORD.pack(r.rtype, len(r.body), r.t_ns))
        parts.append(r.body)
    return b"".join(parts)


def decode_records(raw: bytes, path="<bytes>", offset: int | None = None) -> list[Record]:
    """A chunk body's raw bytes -> records (RecordingError when they do not add up)."""
    out, pos, n = [], 0, len(raw)
    while pos < n:
        if n - pos < _RECORD.size:
            raise RecordingError(path, offset, "a record header runs past the end of its chunk")
        rtype, length, t_ns = _RECORD.unpack_from(raw, pos)
        pos += _RECORD.size
        if length > n - pos:
            raise RecordingError(path, offset, f"a record of {length} bytes runs past the end of its chunk")
        out.append(Record(rtype, t_ns, bytes(raw[pos:pos + length])))
        pos += length
    return out


class RecordingWriter:
    """Writes a recording: ``add(rtype, t_ns, body)`` from any thread, ``close()`` at the end.

    Records are gathered into chunks, handed over when a chunk holds ``chunk_bytes`` or spans
    ``chunk_ns`` of recording time (so a killed writer loses at most that much), and written
    (compressed, CRC'd, flushed to the operating system). ``background``: a writer thread does
    the compressing and writing, so the threads that add records (a frame loop, the network)
    never wait for the disk. ``frame_types``: record types counted as frames in the index.
    ``compress``: zlib level 1 per chunk. A failed write (disk full...) stops the recording and
    is kept in ``error``; ``close()`` then raises it as an OSError naming the file.
    """

    def __init__(self, path, meta: dict, *, chunk_bytes: int = 64 * 1024, chunk_ns: int = 500_000_000,
                 compress: bool = True, frame_types=(), background: bool = False):
        self.path = Path(path)
        meta_bytes = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(meta_bytes) > MAX_META:
            raise ValueError(f"recording meta of {len(meta_bytes)} bytes exceeds {MAX_META}")
        self.chunk_bytes, self.chunk_ns, self.compress = chunk_bytes, chunk_ns, compress
        self.frame_types = frozenset(frame_types)
        self._lock = threading.Lock()
        self._pending: list[Record] = []
        self._pending_bytes = 0
        self._index: list[ChunkInfo] = []
        self._closed = False
        self.records_written = 0
        self.error: OSError | None = None
        self._file = open(self.path, "wb")
        try:
            head = _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(meta_bytes))
            self._file.write(head + meta_bytes + _CRC.pack(zlib.crc32(meta_bytes, zlib.crc32(head[8:]))))
            self._file.flush()
        except BaseException:
            self._file.close()
            raise
        self._queue = self._thread = None
        if background:
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._run, name="xrdemo-recording", daemon=True)
            self._thread.start()

    def add(self, rtype: int, t_ns: int, body: bytes = b"") -> None:
        """Store one record (thread-safe). Records keep the order of add() calls."""
        if len(body) > MAX_RECORD:
            raise ValueError(f"a record of {len(body)} bytes exceeds {MAX_RECORD}")
        with self._lock:
            if self._closed:
                return
            self._pending.append(Record(int(rtype), int(t_ns), bytes(body)))
            self._pending_bytes += _RECORD.size + len(body)
            first = self._pending[0].t_ns
            if self._pending_bytes >= self.chunk_bytes or t_ns - first >= self.chunk_ns:
                self._hand_over()

    def flush(self) -> None:
        """Hand what is gathered over as a chunk now (written at once unless in the background)."""
        with self._lock:
            if not self._closed:
                self._hand_over()

    def _hand_over(self) -> None:
        records = self._pending
        if not records:
            return
        self._pending, self._pending_bytes = [], 0
        if self._queue is not None:
            self._queue.put(records)
        else:
            self._write_records(records)

    def _run(self) -> None:
        while True:
            records = self._queue.get()
            if records is None:
                return
            self._write_records(records)

    def _write_records(self, records: list) -> None:
        if self.error is not None:
            return
        try:
            raw = encode_records(records)
            times = [r.t_ns for r in records]
            frames = sum(1 for r in records if r.rtype in self.frame_types)
            offset = self._file.tell()
            self._write_raw_chunk(KIND_RECORDS, raw, min(times), max(times), len(records), frames)
            self._file.flush()
        except OSError as exc:
            self.error = exc
            return
        self._index.append(ChunkInfo(offset, min(times), max(times), len(records), frames))
        self.records_written += len(records)

    def _write_raw_chunk(self, kind: int, raw: bytes, t_first: int, t_last: int, count: int,
                         frames: int) -> None:
        codec, stored = CODEC_STORED, raw
        if self.compress and len(raw) > 256:
            packed = zlib.compress(raw, 1)
            if len(packed) < len(raw):
                codec, stored = CODEC_ZLIB, packed
        crc = _chunk_crc(kind, codec, 0, t_first, t_last, count, frames, len(stored), len(raw), stored)
        self._file.write(_CHUNK.pack(CHUNK_MAGIC, kind, codec, 0, t_first, t_last, count, frames,
                                     len(stored), len(raw), crc) + stored)

    def close(self) -> None:
        """Write the last chunk, the index and the trailer; close the file. Raises OSError when
        writing failed (what was written before the failure stays readable)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._hand_over()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        try:
            if self.error is None:
                index_offset = self._file.tell()
                body = b"".join(_INDEX_ENTRY.pack(c.offset, c.t_first_ns, c.t_last_ns, c.count, c.frames)
                                for c in self._index)
                t_first = self._index[0].t_first_ns if self._index else 0
                t_last = self._index[-1].t_last_ns if self._index else 0
                self._write_raw_chunk(KIND_INDEX, body, t_first, t_last, len(self._index), 0)
                self._file.write(_TRAILER.pack(index_offset, END_MAGIC))
                self._file.flush()
                try:
                    os.fsync(self._file.fileno())
                except OSError:
                    pass
        except OSError as exc:
            self.error = exc
        finally:
            try:
                self._file.close()
            except OSError as exc:
                self.error = self.error or exc
        if self.error is not None:
            raise OSError(f"writing the recording {self.path} failed: "
                          f"{self.error.strerror or self.error}") from self.error

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RecordingReader:
    """Reads a recording: ``meta``, ``chunks`` (ChunkInfo, in order) and ``records(...)``.

    Opening checks the header, the version and the meta block (RecordingError /
    NewerFormatError when they are wrong: nothing can be played then). The index comes from the
    trailer when the file was closed cleanly; otherwise the chunks are scanned (past a damaged
    one, the scan looks for the next chunk's sync marker and goes on). Every problem found, then
    or later while reading a chunk whose CRC does not match, is kept in ``problems`` (in the
    order found); ``damage`` is the first.
    """

    def __init__(self, path):
        self.path = Path(path)
        try:
            self._file = open(self.path, "rb")
        except FileNotFoundError:
            raise FileNotFoundError(f"recording {self.path} does not exist") from None
        except IsADirectoryError:
            raise RecordingError(self.path, None, "is a folder, not a recording") from None
        try:
            self.size = os.fstat(self._file.fileno()).st_size
            self.version, self.meta, self.data_offset = self._read_header()
            self.problems: list[RecordingError] = []
            self.indexed = False
            self.chunks = self._read_index()
            if self.chunks is None:
                self.chunks = self._scan()
            else:
                self.indexed = True
        except BaseException:
            self._file.close()
            raise

    # --- opening -----------------------------------------------------------------------------
    def _read_header(self):
        head = self._file.read(_HEADER.size)
        if len(head) < _HEADER.size or not head.startswith(MAGIC[:len(head)]) or head[:8] != MAGIC:
            if len(head) < 8 and MAGIC.startswith(head):
                raise RecordingError(self.path, len(head), "truncated inside the file header")
            raise RecordingError(self.path, 0, "not an xrdemo recording (no XRDREC header)")
        _magic, version, _flags, meta_len = _HEADER.unpack(head)
        if version > FORMAT_VERSION:
            raise NewerFormatError(self.path, version)
        if version < 1:
            raise RecordingError(self.path, 8, f"format version {version} does not exist")
        if meta_len > MAX_META:
            raise RecordingError(self.path, 12, f"meta block length {meta_len} is implausible (damaged header)")
        meta_bytes = self._file.read(meta_len)
        crc = self._file.read(_CRC.size)
        if len(meta_bytes) < meta_len or len(crc) < _CRC.size:
            raise RecordingError(self.path, self.size, "truncated inside the meta block")
        if _CRC.unpack(crc)[0] != zlib.crc32(meta_bytes, zlib.crc32(head[8:])):
            raise RecordingError(self.path, _HEADER.size, "the meta block's CRC does not match (damaged)")
        try:
            meta = json.loads(meta_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RecordingError(self.path, _HEADER.size, "the meta block is not JSON") from None
        if not isinstance(meta, dict):
            raise RecordingError(self.path, _HEADER.size, "the meta block is not a JSON object")
        return version, meta, _HEADER.size + meta_len + _CRC.size

    def _read_chunk_at(self, offset: int, want_kind: int | None = None):
        """(kind, header tuple, raw body, next offset) of the chunk at offset; RecordingError
        naming the offset when it is truncated or damaged."""
        self._file.seek(offset)
        head = self._file.read(_CHUNK.size)
        if len(head) < _CHUNK.size:
            raise RecordingError(self.path, offset, "truncated: the file ends inside a chunk header")
        magic, kind, codec, _r, t_first, t_last, count, frames, stored_len, raw_len, crc = _CHUNK.unpack(head)
        if magic != CHUNK_MAGIC:
            raise RecordingError(self.path, offset, "no chunk sync marker where a chunk should start (damaged)")
        if stored_len > MAX_CHUNK or raw_len > MAX_CHUNK or kind not in (KIND_RECORDS, KIND_INDEX) \
                or codec not in (CODEC_STORED, CODEC_ZLIB):
            raise RecordingError(self.path, offset, "implausible chunk header (damaged)")
        stored = self._file.read(stored_len)
        if len(stored) < stored_len:
            raise RecordingError(self.path, offset, f"truncated: a chunk of {stored_len} bytes has only "
                                                    f"{len(stored)} in the file")
        if _chunk_crc(kind, codec, _r, t_first, t_last, count, frames, stored_len, raw_len, stored) != crc:
            raise RecordingError(self.path, offset, "a chunk's CRC does not match (damaged)")
        if want_kind is not None and kind != want_kind:
            raise RecordingError(self.path, offset, f"expected a chunk of kind {want_kind}, found {kind}")
        raw = stored
        if codec == CODEC_ZLIB:
            try:
                raw = zlib.decompress(stored)
            except zlib.error as exc:
                raise RecordingError(self.path, offset, f"a chunk does not decompress ({exc})") from None
        if len(raw) != raw_len:
            raise RecordingError(self.path, offset, "a chunk's length does not match its header")
        info = ChunkInfo(offset, t_first, t_last, count, frames)
        return kind, info, raw, offset + _CHUNK.size + stored_len

    def _read_index(self) -> list[ChunkInfo] | None:
        if self.size < self.data_offset + _TRAILER.size:
            return None
        self._file.seek(self.size - _TRAILER.size)
        index_offset, magic = _TRAILER.unpack(self._file.read(_TRAILER.size))
        if magic != END_MAGIC or not self.data_offset <= index_offset < self.size - _TRAILER.size:
            return None
        try:
            _kind, _info, raw, end = self._read_chunk_at(index_offset, KIND_INDEX)
        except RecordingError:
            return None                          # a damaged index: scan the chunks instead
        if end != self.size - _TRAILER.size or len(raw) % _INDEX_ENTRY.size:
            return None
        chunks = [ChunkInfo(*_INDEX_ENTRY.unpack_from(raw, i)) for i in range(0, len(raw), _INDEX_ENTRY.size)]
        last_end = self.data_offset
        for c in chunks:                         # offsets must be in order and inside the data
            if not last_end <= c.offset < index_offset:
                return None
            last_end = c.offset + _CHUNK.size
        self._index_offset = index_offset
        return chunks

    @property
    def damage(self) -> RecordingError | None:
        """The first problem found (None: the file is intact as far as it was read)."""
        return self.problems[0] if self.problems else None

    @damage.setter
    def damage(self, problem: RecordingError) -> None:
        self.note(problem)

    def note(self, problem: RecordingError) -> None:
        """Keep a problem (once per offset), in the order found."""
        if problem.offset is None or all(p.offset != problem.offset for p in self.problems):
            self.problems.append(problem)

    def _scan(self) -> list[ChunkInfo]:
        """Walk the chunks from the start (no usable index), noting each problem; past a damaged
        chunk, go on from the next sync marker that starts an intact chunk."""
        chunks, offset = [], self.data_offset
        while offset < self.size:
            try:
                kind, info, _raw, next_offset = self._read_chunk_at(offset)
            except RecordingError as exc:
                self.note(exc)
                offset = self._resync(offset + 1)
                continue
            if kind == KIND_INDEX:
                self.note(RecordingError(self.path, offset, "the index or the trailer after it is "
                                         "damaged (every chunk before it was scanned)"))
                return chunks
            chunks.append(info)
            offset = next_offset
        if not self.problems:
            self.note(RecordingError(self.path, offset, "truncated: the file ends without its index "
                                     "(the recording did not end cleanly)"))
        return chunks

    def _resync(self, start: int) -> int:
        """The offset of the next intact chunk at or after ``start`` (the file size if none)."""
        block = 1 << 16
        pos = start
        while pos < self.size:
            self._file.seek(pos)
            data = self._file.read(block + len(CHUNK_MAGIC) - 1)
            i = data.find(CHUNK_MAGIC)
            while i >= 0:
                try:
                    self._read_chunk_at(pos + i)
                    return pos + i
                except RecordingError:
                    i = data.find(CHUNK_MAGIC, i + 1)
            pos += block
        return self.size

    # --- reading -----------------------------------------------------------------------------
    @property
    def t0_ns(self) -> int:
        """The recording's start on its clock (meta t0_ns, else the first record's time)."""
        t0 = self.meta.get("t0_ns")
        if isinstance(t0, int):
            return t0
        return self.chunks[0].t_first_ns if self.chunks else 0

    @property
    def duration_s(self) -> float:
        """Seconds from the start to the last record of the intact part."""
        if not self.chunks:
            return 0.0
        return max(0.0, (self.chunks[-1].t_last_ns - self.t0_ns) * 1e-9)

    def chunk_at(self, t_ns: int) -> int:
        """Index of the first chunk holding records at or after t_ns (len(chunks) when none)."""
        for i, c in enumerate(self.chunks):
            if c.t_last_ns >= t_ns:
                return i
        return len(self.chunks)

    def read_chunk(self, i: int) -> list[Record]:
        """The records of chunk i (RecordingError when it turns out damaged)."""
        _kind, _info, raw, _end = self._read_chunk_at(self.chunks[i].offset, KIND_RECORDS)
        return decode_records(raw, self.path, self.chunks[i].offset)

    def records(self, first_chunk: int = 0, skip_damaged: bool = False):
        """Every record from chunk ``first_chunk`` on, in file order. A damaged chunk is noted
        in ``problems``; then the records stop there, or, with ``skip_damaged``, go on with the
        next intact chunk (the damaged chunk's records are lost)."""
        i = first_chunk
        while i < len(self.chunks):
            try:
                records = self.read_chunk(i)
            except RecordingError as exc:
                c = self.chunks[i]
                if skip_damaged:
                    exc = RecordingError(self.path, exc.offset, f"{exc.what}; skipped its "
                                         f"{(c.t_last_ns - c.t_first_ns) / 1e9:.1f} s of records from "
                                         f"{(c.t_first_ns - self.t0_ns) / 1e9:.1f} s")
                    self.note(exc)
                    i += 1
                    continue
                self.note(exc)
                del self.chunks[i:]
                return
            yield from records
            i += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "RecordingReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

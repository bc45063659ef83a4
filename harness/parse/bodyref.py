"""Message bodies stored by reference: where a body's bytes are already in ``capture.sqlite``
(an HTTP/1.1 identity body, an HTTP/2 body's DATA frames, an unmasked WebSocket payload, a
raw stretch of a stream), ``analysis.sqlite`` holds the body's length and where its bytes
are (each a stretch of one event's ``data``), not the bytes again.

Found by the writer, not told by the parsers: a body is looked for in the bytes of its own
connection and direction, between the first and the last event it was built from, piece by
piece (:func:`find`). Whatever is found is the body's bytes, compared there, so a reference
gives back the bytes the parsers made, however they made them; what is not found (decoded,
dechunked into pieces too small, unmasked, made up) stays bytes. ``_store.c``'s writer
finds the same references in C (storeref.c); this is its reference.

A store that holds references reads them from the capture it was built from: the capture's
file stamp (:func:`capture_stamp`) is in the store's fingerprint (a change rebuilds the store)
and in its meta, which the reader (:class:`Bodies`) checks before it reads a body, so a
capture changed or gone since is an error naming it, never a wrong body.

A body the parsers decoded (gzip, deflate, br, zstd: ``Content-Encoding`` and transfer
codings) is kept the same way where its bytes as sent are found and decoding them gave the
body whole, with no note (format 7): the reference is then those bytes' stretches after a
head naming the codings and the output budget (:data:`CODED`), and the reader decodes them
again as the parsers did (:func:`harness.parse.encoding.decode_content`, which is
deterministic and, complete within a budget, the same within that budget each time). The
parsers say which bodies those are, in the flow they read them from (:func:`keep`,
:attr:`Flow.coded`); anything else (cut, truncated, not decodable, WebSocket's
permessage-deflate, whose window spans messages) stays bytes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from harness.capture.capturedb import MMAP_BYTES
from harness.capture.dbformat import read_uri
from harness.capture.rundir import CAPTURE_DB
from harness.errors import RunDirError
from harness.parse.encoding import decode_content
from harness.parse.reassembly import Coded

MIN_REF = 64
"""Bodies shorter than this stay bytes: a reference (16 bytes a stretch, and the capture read
back) would save next to nothing."""
PROBE = 16
"""How many of a piece's first bytes are looked for before the piece is grown."""
PER_SPAN = 64
"""A body of ``n`` bytes may be at most ``1 + n // PER_SPAN`` pieces (else it stays bytes):
a reference never costs more than a quarter of the bytes it replaces, and the search is
bounded."""
SPAN = struct.Struct("<qII")
"""One stretch of a reference: the event's seq, where in its data the stretch starts, its
length. A reference is these one after the other (``body_ref``); the body is the stretches
joined."""
CODED = struct.Struct("<qQ")
"""A coded reference's head: minus the length of its codings' text (a stretch's seq is never
negative, so a reference that starts with a negative number is a coded one), and the output
budget they were undone within; the codings' text (ASCII, ``meta["content_encoding"]``'s:
``gzip,br``) follows, then the stretches of the body as sent."""
STAMP_KEY = "capture_stamp"
"""Store meta key: :func:`capture_stamp` of the capture the store was built from."""
_LIMIT = 2**32 - 1


def capture_stamp(capture: Path) -> str:
    """The capture file's size and modification time (and its WAL's, if there is one): what
    changes when anything writes to it. A copy of a run dir gets new times, so its store is
    rebuilt once (the same bodies, read from the copy)."""
    parts = []
    for path in (capture, capture.with_name(capture.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            st = os.stat(path)
            parts.append(f"{st.st_size}:{st.st_mtime_ns}")
    return "/".join(parts)


def _common(a: bytes, i: int, b: bytes, j: int, n: int) -> int:
    """How many bytes ``a[i:]`` and ``b[j:]`` share from their start, at most ``n``."""
    if a[i:i + n] == b[j:j + n]:
        return n
    lo, hi = 0, n  # a[i:i+lo] == b[j:j+lo], a[i:i+hi] != b[j:j+hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[i:i + mid] == b[j:j + mid]:
            lo = mid
        else:
            hi = mid
    return lo


def columns(data: object, starts: object, seqs: object
            ) -> tuple[bytes, list[int], list[int]] | None:
    """A flow's columns (:meth:`Flow.columns` and its data) as :func:`find` takes them, or
    None where they are not what reassembly makes (bytes; as many starts as seqs, ints of
    64 bits; the starts from 0, never falling, within the data): no body is looked for
    then. storeref.c checks the same."""
    if (type(data) is not bytes or type(starts) is not list or type(seqs) is not list
            or len(starts) != len(seqs)):
        return None
    if not all(type(x) is int and -2**63 <= x < 2**63 for x in (*starts, *seqs)):
        return None
    if starts and (starts[0] != 0 or starts[-1] > len(data)
                   or any(b < a for a, b in pairwise(starts))):
        return None
    return data, starts, seqs


def find(data: bytes, starts: Sequence[int], seqs: Sequence[int], events: object,
         body: object) -> bytes | None:
    """The reference of ``body`` in a flow (``data``, each event's start in it and its seq,
    in seq order: :meth:`Flow.columns`), as ``body_ref`` holds it, or None when the body is
    to stay bytes. ``events`` are the seqs the message was built from: the body is looked for
    between the start of the first one's bytes and the end of the last one's.

    Piece by piece, from the start of that stretch: the first place the piece's first
    :data:`PROBE` bytes are, then as long as it goes on matching, then the next piece after
    it. What is found is compared, so the bytes are the body's wherever they were found."""
    if type(body) is not bytes or len(body) < MIN_REF or type(events) is not tuple or not events:
        return None
    first, last = events[0], events[-1]
    if type(first) is not int or type(last) is not int:
        return None
    n = len(seqs)
    a, b = bisect_left(seqs, first), bisect_left(seqs, last)
    if a >= n or b >= n or seqs[a] != first or seqs[b] != last or b < a or seqs[a] < 0:
        return None
    lo, hi = starts[a], starts[b + 1] if b + 1 < n else len(data)
    size = len(body)
    pieces: list[tuple[int, int]] = []
    at, q, most = 0, lo, 1 + size // PER_SPAN
    while at < size:
        if len(pieces) == most:
            return None
        probe = min(PROBE, size - at)
        p = data.find(body[at:at + probe], q, hi)
        if p < 0:
            return None
        m = probe + _common(body, at + probe, data, p + probe,
                            min(size - at, hi - p) - probe)
        pieces.append((p, m))
        at, q = at + m, p + m
    out = bytearray()
    for p, m in pieces:  # each piece as the events' stretches it covers
        i = bisect_right(starts, p) - 1
        while m:
            end = starts[i + 1] if i + 1 < n else len(data)
            take = min(m, end - p)
            if take:
                if end - starts[i] > _LIMIT or seqs[i] < 0:  # a span's seq: never negative
                    return None
                out += SPAN.pack(seqs[i], p - starts[i], take)
                p += take
                m -= take
            i += 1
    return bytes(out)


def keep(coded: dict[int, Coded | None], body: bytes, wire: bytes, codings: str,
         budget: int) -> None:
    """Note in a flow's :attr:`Flow.coded` that ``body`` is ``wire`` decoded (``codings``
    undone within ``budget``) whole, with no note: what the parsers call for each such body.
    By ``id``: the entry holds the body, so the id is its own while the entry lasts; a body
    noted twice (never, as each decoding makes its own bytes) is noted as neither."""
    if len(body) >= MIN_REF and len(wire) >= MIN_REF:
        key = id(body)
        coded[key] = None if key in coded else (body, wire, codings, budget)


def find_coded(data: bytes, starts: Sequence[int], seqs: Sequence[int], events: object,
               body: object, coded: dict[int, Coded | None]) -> bytes | None:
    """The coded reference of ``body`` (:data:`CODED`, then :func:`find`'s stretches of its
    bytes as sent) where the flow's :attr:`Flow.coded` notes it, or None. storeref.c's
    ref_find_coded checks the same."""
    got = coded.get(id(body)) if coded else None
    if type(got) is not tuple or len(got) != 4 or got[0] is not body:
        return None
    _body, wire, codings, budget = got
    if (type(wire) is not bytes or type(codings) is not str or not codings
            or not codings.isascii() or type(budget) is not int or not 0 <= budget < 2**64):
        return None
    ref = find(data, starts, seqs, events, wire)
    if ref is None:
        return None
    text = codings.encode("ascii")
    return CODED.pack(-len(text), budget) + text + ref


def coding(ref: bytes) -> tuple[str, int] | None:
    """A coded reference's codings (as ``meta["content_encoding"]`` has them) and budget, or
    None for a reference to the body itself."""
    if len(ref) < CODED.size:
        return None
    n, budget = CODED.unpack_from(ref)
    return None if n >= 0 else (ref[CODED.size:CODED.size - n].decode("ascii"), budget)


def spans(ref: bytes) -> list[tuple[int, int, int]]:
    """A reference's stretches: (seq, start in the event's data, length) each; a coded one's
    are of the body as sent."""
    n = CODED.unpack_from(ref)[0] if len(ref) >= CODED.size else 0
    return list(SPAN.iter_unpack(ref[CODED.size - n:] if n < 0 else ref))


class Bodies:
    """The bodies a store's references name, read from the capture next to the store:
    opened once, read-only, when a body first needs it (most readers read none), and
    checked against the stamp the store recorded."""

    BATCH = 500
    """Seqs an event query asks for at once."""

    def __init__(self, store: Path, stamp: str | None) -> None:
        self.capture = store.with_name(CAPTURE_DB)
        self.stamp = stamp
        self._db: sqlite3.Connection | None = None

    def close(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            path = self.capture
            if not path.is_file():
                raise RunDirError("message bodies are read from the capture, which is missing"
                                  " (run harness analyze on a complete run dir)", path=str(path))
            if self.stamp is None or capture_stamp(path) != self.stamp:
                raise RunDirError("the capture changed since the message store was built from"
                                  " it: run harness analyze again", path=str(path))
            try:
                self._db = sqlite3.connect(read_uri(path), uri=True)
                # as the capture reader: pages read from the mapping, not copied in
                self._db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            except sqlite3.Error as exc:
                raise RunDirError(f"cannot read message bodies from the capture: {exc}",
                                  path=str(path)) from exc
        return self._db

    def _events(self, seqs: set[int]) -> dict[int, bytes | None]:
        db = self._open()
        got: dict[int, bytes | None] = {}
        todo = sorted(seqs)
        try:
            for i in range(0, len(todo), self.BATCH):
                part = todo[i:i + self.BATCH]
                for seq, data in db.execute(
                        f"SELECT seq, data FROM events WHERE seq IN ({','.join('?' * len(part))})",
                        part):
                    # as the capture reader reads it (CaptureReader._event_row, Side)
                    got[seq] = (data if type(data) is bytes else b"" if data is None
                                else data.encode("utf-8") if type(data) is str else None)
        except sqlite3.Error as exc:
            raise RunDirError(f"cannot read message bodies from the capture: {exc}",
                              path=str(self.capture)) from exc
        return got

    def read(self, refs: list[tuple[int, bytes]]) -> list[bytes]:
        """The bodies of references (each with the length the store gives its body), reading
        every event they need in one pass."""
        each = [spans(ref) for _n, ref in refs]
        data = self._events({seq for s in each for seq, _o, _n in s})
        out = []
        for (size, ref), s in zip(refs, each, strict=True):
            parts = []
            for seq, o, n in s:
                have = data.get(seq)
                if have is None or o + n > len(have):
                    break
                parts.append(have[o:o + n])
            body = b"".join(parts)
            whole = len(parts) == len(s)
            coded = coding(ref)
            if coded is not None and whole:  # decoded again, as the parsers did
                res = decode_content(body, coded[0].split(","), coded[1])
                body, whole = res.data, res.complete and not res.notes
            if not whole or len(body) != size:
                raise RunDirError("the capture does not hold a message body the store names"
                                  " (changed since it was built): run harness analyze again",
                                  path=str(self.capture))
            out.append(body)
        return out

"""Reading the message store (``analysis.sqlite``, :mod:`harness.parse.store` writes it):
messages in id order, a chunk (storeformat.py: up to 256 messages a row) at a time, or one
by id, never all of them in memory. A body stored as a reference (format 6) is
read from the run's capture (:class:`bodyref.Bodies`), a few hundred messages' at a time."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from harness.parse.bodyref import STAMP_KEY, Bodies
from harness.parse.message import Message, MessageKind
from harness.parse.rowcodec import chunked, decoded, loads
from harness.parse.store import ANALYSIS_DB, numbers_of
from harness.parse.storechunk import held
from harness.text import is_digits

_COLS = ("kind, t, direction, f.source, f.conn, phase, f.protocol, host, f.ip, f.port, f.sni,"
         " f.tls_version, f.cipher, method, url, status, headers, {body}, body_len_wire,"
         " events, request_key, sdk, frames, meta, notes,"
         " (SELECT group_concat(l.b) FROM links l WHERE l.a = m.key), {ref}")
_FACTS = " CROSS JOIN facts f ON f.id = m.facts"
_BODY_LEN = "CASE typeof(body) WHEN 'blob' THEN length(body) ELSE body END"
"""What ``messages(with_body=False)`` reads for a body: its length where it is a BLOB (bytes:
SQLite reads the length from the record's header, not the body), else the body (a str; its
``len`` is taken in Python, where SQLite's ``length`` would stop at a NUL; or the length
itself, an int, where the body is a reference to the capture). The store had a
column of ``len(body)`` to read here (format 4): a value to bind and record a row (10.1 M
instructions, 0.44% of the 20 MB run, callgrind) for what the body's own header says."""
_BODY = 18
"""A row's body (the key first, then _COLS); a chunk's message's is at 10, its reference's
length at 18 (storeformat.CHUNK_FIELDS)."""
_CACHED = 8
"""Chunks :meth:`MessageStore.messages` keeps decoded: the numbering's order is a
connection's messages together, mostly, but requests and responses of connections that
overlap take turns."""
_BATCH = 256
_BATCH_BYTES = 16 << 20
"""Rows (and bytes of their bodies) :meth:`MessageStore.messages` holds to read their
references' bodies at once: one query of the capture for them all."""
_SIZED = frozenset({bytes, str})


def _floats(ts: bytes) -> array[float]:
    """A chunk's ts: its messages' t, 8 bytes each, little-endian."""
    out = array("d", ts)
    if sys.byteorder == "big":
        out.byteswap()
    return out


_Held = tuple[int, Any, Any, Any, Any, float, Any]
"""A message :meth:`MessageStore.messages` holds until its reference's body is read: its
index, its chunk values (None for a row of its own), its facts row's values (or its row),
its body, its links, its t and its reference (the body's length and the reference), or
None where its body is at hand."""


def _row_held(i: int, row: tuple[Any, ...]) -> _Held:
    """A row of its own (``_COLS``' values, the index first) as :data:`_Held`."""
    return (i, None, row, None, None, 0.0, None if row[-1] is None else (row[_BODY], row[-1]))


_GOT = 4
"""Chunks :meth:`MessageStore.get` keeps (their text and bodies)."""
_DECODER = json.JSONDecoder()


class MessageStore:
    """Read the messages of a run (or of any ``analysis.sqlite``)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise RunDirError("no message store", path=str(path))
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self._keys: tuple[str, list[int], list[int]] | None = None
        self._got: dict[int, tuple[str, bytes, list[int], list[int], array[float]]] = {}
        self._index: tuple[list[int], list[int], dict[int, tuple[Any, ...]],
                           dict[int, list[int]]] | None = None
        self._bodies: Bodies | None = None
        self._ref: str | None = None

    @classmethod
    def open(cls, run: RunDir | Path | str, rebuild: bool = False) -> MessageStore:
        """The store of a run dir, built (or rebuilt when stale or ``rebuild``) first."""
        from harness.parse.builder import build_messages, is_current  # builder imports us

        rd = run if isinstance(run, RunDir) else RunDir.open(run)
        path = rd.file(ANALYSIS_DB)
        if rebuild or not is_current(rd):
            build_messages(rd)
        return cls(path)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if self._bodies is not None:
            self._bodies.close()

    def _ref_column(self) -> str:
        """What a row's reference is read as: ``body_ref``, or NULL in a store older than
        format 6 (bench/storediff.py compares one with a store of this format)."""
        if self._ref is None:
            cols = {c for _i, c, *_ in self._db.execute("PRAGMA table_info(messages)")}
            self._ref = "body_ref" if "body_ref" in cols else "NULL"
        return self._ref

    def bodies(self) -> Bodies:
        """Where the bodies stored as references are read (the capture), made once."""
        if self._bodies is None:
            self._bodies = Bodies(self.path, self.meta().get(STAMP_KEY))
        return self._bodies

    def __enter__(self) -> MessageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def count(self, kind: MessageKind | None = None) -> int:
        if kind is None:
            return len(self._numbering()[1])
        (rows,), = self._db.execute("SELECT count(*) FROM messages WHERE kind=?",
                                    (kind.value,)).fetchall()
        # every chunk decoded here, not by SQLite's JSON functions: they refuse json's NaN and
        # Infinity, which a meta may hold (~0.7 s on the 200 MB run, 0.03 s with a column of
        # kinds: nothing the harness asks)
        chunked: int = sum(v[1] == kind.value
                           for text, in self._db.execute("SELECT rows FROM chunks")
                           for v in loads(text))
        return int(rows) + chunked

    def _numbering(self) -> tuple[str, list[int], list[int]]:
        """The numbering's text, its keys in order, and each key's number (a list indexed
        by key: the keys are 1 to the count), read once."""
        if self._keys is None:
            (text,), = self._db.execute("SELECT keys FROM numbering").fetchall()
            keys: list[int] = loads(text)
            self._keys = text, keys, numbers_of(keys, len(keys))
        return self._keys

    def _chunks(self) -> tuple[list[int], list[int], dict[int, tuple[Any, ...]],
                               dict[int, list[int]]]:
        """The chunks' first keys, each key's chunk (an index into them, -1 for a message in
        a row of its own), the facts rows by id and the links by key, read once."""
        if self._index is None:
            count = len(self._numbering()[1])
            firsts: list[int] = []
            chunk_of = [-1] * (count + 1)
            # a chunk's messages counted by its ts (8 bytes each), whose length SQLite reads
            # from the row's header: json_array_length would parse every chunk's text
            for key, n in self._db.execute("SELECT key, length(ts) / 8 FROM chunks ORDER BY key"):
                chunk_of[key:key + n] = [len(firsts)] * n
                firsts.append(key)
            if len(chunk_of) != count + 1:
                raise RunDirError("message store chunks past its messages", path=str(self.path))
            facts = {row[0]: row[1:] for row in self._db.execute("SELECT * FROM facts")}
            links: dict[int, list[int]] = {}
            for a, b in self._db.execute("SELECT a, b FROM links ORDER BY rowid"):
                links.setdefault(a, []).append(b)
            self._index = firsts, chunk_of, facts, links
        return self._index

    def _chunk(self, key: int, with_body: bool
               ) -> tuple[list[Any], bytes, list[int], array[float]]:
        """A chunk's messages (decoded), its bodies, where each one's starts there, and the
        messages' ts."""
        sql = "SELECT rows, bodies, ts FROM chunks WHERE key=?" if with_body else \
            "SELECT rows, x'', ts FROM chunks WHERE key=?"
        (text, blob, ts), = self._db.execute(sql, (key,)).fetchall()
        rows: list[Any] = loads(text)
        at, starts = 0, []
        if with_body:
            for v in rows:
                starts.append(at)
                at += held(v)
        return rows, blob, starts, _floats(ts)

    def messages(self, kinds: Iterable[MessageKind] | None = None,
                 with_body: bool = True) -> Iterator[Message]:
        """All messages in id order. ``with_body=False`` leaves ``body`` empty (cheap)."""
        _text, keys, n_of = self._numbering()
        firsts, chunk_of, facts, links = self._chunks()
        ks = None if kinds is None else frozenset(k.value for k in kinds)
        cache: dict[int, tuple[list[Any], bytes, list[int], array[float]]] = {}
        waiting: list[_Held] = []
        size = 0
        for i, key in enumerate(keys):
            c = chunk_of[key]
            if c < 0:
                row = self._row(i, key, with_body)
                if row is None or (ks is not None and row[1] not in ks):
                    continue
                if row[-1] is None and not waiting:
                    yield _message(row, n_of, with_body)
                    continue
                waiting.append(_row_held(i, row))
                body = row[_BODY]
                size += body if type(body) is int else len(body) if type(body) in _SIZED else 0
            else:
                got = cache.get(c)
                if got is None:
                    if len(cache) >= _CACHED:
                        del cache[next(iter(cache))]
                    got = cache[c] = self._chunk(firsts[c], with_body)
                rows, blob, starts, ts = got
                j = key - firsts[c]
                v = rows[j]
                t = ts[j]
                if ks is not None and v[1] not in ks:
                    continue
                lk = links.get(key)
                if not with_body:
                    yield _chunked(i, v, t, facts[v[3]], v[10], lk, n_of, False)
                    continue
                n, ref = v[10], v[18]
                at = starts[j]
                if ref is None:
                    body = blob[at:at + n]
                    if not waiting:
                        yield _chunked(i, v, t, facts[v[3]], body, lk, n_of, True)
                        continue
                    waiting.append((i, v, facts[v[3]], body, lk, t, None))
                else:
                    waiting.append((i, v, facts[v[3]], None, lk, t, (n, blob[at:at + ref])))
                    size += n
            # messages from the first with a reference on are held until there are enough
            # to read their bodies from the capture at once
            if len(waiting) >= _BATCH or size >= _BATCH_BYTES:
                yield from self._resolved(waiting, n_of)
                waiting, size = [], 0
        yield from self._resolved(waiting, n_of)

    def _row(self, i: int, key: int, with_body: bool) -> tuple[Any, ...] | None:
        """The message in a row of its own (format 6's), numbered i + 1."""
        cols = _COLS.format(body="body" if with_body else _BODY_LEN,
                            ref=self._ref_column() if with_body else "NULL")
        rows = self._db.execute("SELECT ?, " + cols + " FROM messages m" + _FACTS
                                + " WHERE m.key = ?", (i, key)).fetchall()
        return rows[0] if rows else None

    def _resolved(self, waiting: list[_Held], n_of: list[int]) -> list[Message]:
        """The messages waiting, their references read (all at once) from the capture."""
        refs = [ref for *_, ref in waiting if ref is not None]
        bodies = iter(self.bodies().read(refs) if refs else ())
        out = []
        for i, v, f, body, lk, t, ref in waiting:
            if ref is not None:
                body = next(bodies)
            if v is None:  # a row of its own, its body in it
                out.append(_message(f if ref is None else (*f[:_BODY], body, *f[_BODY + 1:]),
                                    n_of, True))
            else:
                out.append(_chunked(i, v, t, f, body, lk, n_of, True))
        return out

    def get(self, message_id: str) -> Message:
        """One message by id; KeyError when there is none."""
        if not message_id.startswith("m") or not is_digits(message_id[1:]):
            raise KeyError(message_id)
        _text, keys, n_of = self._numbering()
        n = int(message_id[1:])
        if not 0 < n <= len(keys):
            raise KeyError(message_id)
        key = keys[n - 1]
        firsts, chunk_of, facts, links = self._chunks()
        c = chunk_of[key]
        if c < 0:
            row = self._row(n - 1, key, True)
            if row is None:
                raise KeyError(message_id)
            return self._resolved([_row_held(n - 1, row)], n_of)[0]
        text, blob, at, starts, ts = self._located(c)
        j = key - firsts[c]
        v: list[Any] = _DECODER.raw_decode(text, at[j])[0]  # its own values, made anew
        here = blob[starts[j]:starts[j] + held(v)]
        body, ref = (here, None) if v[18] is None else (None, (v[10], here))
        return self._resolved([(n - 1, v, facts[v[3]], body, links.get(key), ts[j], ref)],
                              n_of)[0]

    def _located(self, c: int) -> tuple[str, bytes, list[int], list[int], array[float]]:
        """Chunk c's text, its bodies, where each message's values start in the text and
        its body in the bodies: kept for the next :meth:`get` (a few chunks'), which decodes
        only its message's values (a reader that gets each response of a request, the HAR
        export, gets messages of the same chunk one after another)."""
        got = self._got.get(c)
        if got is None:
            if len(self._got) >= _GOT:
                del self._got[next(iter(self._got))]
            (text, blob, ts), = self._db.execute(
                "SELECT rows, bodies, ts FROM chunks WHERE key=?",
                (self._chunks()[0][c],)).fetchall()
            at, starts, i, b = [], [], 1, 0
            while i < len(text) - 1:  # "[" message ("," message)* "]"
                v, end = _DECODER.raw_decode(text, i)
                at.append(i)
                starts.append(b)
                b += held(v)
                i = end + 1
            got = self._got[c] = (text, blob, at, starts, _floats(ts))
        return got


def _chunked(i: int, v: list[Any], t: float, facts: tuple[Any, ...], body: Any,
             links: list[int] | None, n_of: list[int], with_body: bool) -> Message:
    """Message number i + 1 of its chunk's values v (storeformat.CHUNK_FIELDS), its facts
    row's values, its t, its body (without ``with_body``: its length) and the keys it is linked
    to: what :func:`_message` makes of its row, the JSON columns decoded with the chunk."""
    req = v[13]
    return chunked(f"m{i + 1}", v, t, facts, body, None if req is None else f"m{n_of[req]}",
                   tuple(f"m{x}" for x in sorted(n_of[k] for k in links)) if links else (),
                   with_body)


def _message(row: tuple[Any, ...], n_of: list[int], with_body: bool) -> Message:
    # Rows are written by StoreWriter only, so their types are known: no per-field checks
    # (this runs once per message for every reader).
    (i, kind, t, direction, source, conn, phase, protocol, host, ip, port, sni, tls_version,
     cipher, method, url, status, headers, body, body_len_wire, events, req, sdk, frames,
     meta, notes, links, _ref) = row
    return decoded(
        f"m{i + 1}", kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,
        tls_version, cipher, method, url, status, headers, body, body_len_wire, events,
        None if req is None else f"m{n_of[req]}",
        tuple(f"m{x}" for x in sorted(n_of[int(v)] for v in links.split(","))) if links
        else (), sdk, frames, meta, notes, with_body)

"""Reading the message store (``analysis.sqlite``, :mod:`harness.parse.store` writes it):
messages in id order from a cursor, or one by id, never all of them in memory. A body stored
as a reference (format 6) is read from the run's capture (:class:`bodyref.Bodies`), a few
hundred messages' at a time."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from harness.parse.bodyref import STAMP_KEY, Bodies
from harness.parse.message import Message, MessageKind
from harness.parse.rowcodec import decoded, loads
from harness.parse.store import ANALYSIS_DB, numbers_of
from harness.text import is_digits

_COLS = ("kind, t, direction, f.source, f.conn, phase, f.protocol, host, f.ip, f.port, f.sni,"
         " f.tls_version, f.cipher, method, url, status, headers, {body}, body_len_wire,"
         " events, request_key, sdk, frames, meta, notes,"
         " (SELECT group_concat(l.b) FROM links l WHERE l.a = m.key), {ref}")
_FACTS = " CROSS JOIN facts f ON f.id = m.facts"
_FROM = " FROM json_each(?) j CROSS JOIN messages m ON m.key = j.value" + _FACTS
_BODY_LEN = "CASE typeof(body) WHEN 'blob' THEN length(body) ELSE body END"
"""What ``messages(with_body=False)`` reads for a body: its length where it is a BLOB (bytes:
SQLite reads the length from the record's header, not the body), else the body (a str; its
``len`` is taken in Python, where SQLite's ``length`` would stop at a NUL; or the length
itself, an int, where the body is a reference to the capture). The store had a
column of ``len(body)`` to read here (format 4): a value to bind and record a row (10.1 M
instructions, 0.44% of the 20 MB run, callgrind) for what the body's own header says."""
_BODY = 18
"""A row's body (the key first, then _COLS)."""
_BATCH = 256
_BATCH_BYTES = 16 << 20
"""Rows (and bytes of their bodies) :meth:`MessageStore.messages` holds to read their
references' bodies at once: one query of the capture for them all."""
_SIZED = frozenset({bytes, str})
# The numbering's keys in order (store.py: one JSON array) are the outer loop, each
# message's row found by its key, then its facts row: CROSS JOIN keeps them so (SQLite does
# not reorder its tables), and rows come out in the array's order, j.key (n - 1) rising,
# which messages() checks. An ORDER BY j.key would have SQLite sort the rows, bodies and
# all.


class MessageStore:
    """Read the messages of a run (or of any ``analysis.sqlite``)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise RunDirError("no message store", path=str(path))
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self._keys: tuple[str, list[int], list[int]] | None = None
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
            return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM messages WHERE kind=?",
                                    (kind.value,)).fetchone()[0])

    def _numbering(self) -> tuple[str, list[int], list[int]]:
        """The numbering's text, its keys in order, and each key's number (a list indexed
        by key: the keys are 1 to the count), read once."""
        if self._keys is None:
            (text,), = self._db.execute("SELECT keys FROM numbering").fetchall()
            keys: list[int] = loads(text)
            self._keys = text, keys, numbers_of(keys, len(keys))
        return self._keys

    def messages(self, kinds: Iterable[MessageKind] | None = None,
                 with_body: bool = True) -> Iterator[Message]:
        """All messages in id order. ``with_body=False`` leaves ``body`` empty (cheap)."""
        text, _keys, n_of = self._numbering()
        cols = _COLS.format(body="body" if with_body else _BODY_LEN,
                            ref=self._ref_column() if with_body else "NULL")
        sql = "SELECT j.key, " + cols + _FROM
        args: list[str] = [text]
        if kinds is not None:
            ks = [k.value for k in kinds]
            sql += f" WHERE kind IN ({','.join('?' * len(ks))})"
            args += ks
        cur = self._db.execute(sql, args)
        try:
            last = -1
            rows: list[tuple[Any, ...]] = []
            size = 0
            for row in cur:
                if row[0] <= last:
                    raise RunDirError("message store read out of order", path=str(self.path))
                last = row[0]
                if row[-1] is None and not rows:
                    yield _message(row, n_of, with_body)
                    continue
                # rows from the first with a reference on are held until there are enough
                # to read their bodies from the capture at once
                rows.append(row)
                body = row[_BODY]  # a reference's length, or the body itself
                size += body if type(body) is int else len(body) if type(body) in _SIZED else 0
                if len(rows) >= _BATCH or size >= _BATCH_BYTES:
                    yield from self._resolved(rows, n_of)
                    rows, size = [], 0
            yield from self._resolved(rows, n_of)
        finally:
            cur.close()

    def _resolved(self, rows: list[tuple[Any, ...]], n_of: list[int]) -> list[Message]:
        """The messages of rows, their references read (all at once) from the capture."""
        refs = [(row[_BODY], row[-1]) for row in rows if row[-1] is not None]
        bodies = iter(self.bodies().read(refs) if refs else ())
        return [_message(row if row[-1] is None
                         else (*row[:_BODY], next(bodies), *row[_BODY + 1:]), n_of, True)
                for row in rows]

    def get(self, message_id: str) -> Message:
        """One message by id; KeyError when there is none."""
        if not message_id.startswith("m") or not is_digits(message_id[1:]):
            raise KeyError(message_id)
        _text, keys, n_of = self._numbering()
        n = int(message_id[1:])
        if not 0 < n <= len(keys):
            raise KeyError(message_id)
        row = self._db.execute("SELECT ?, " + _COLS.format(body="body", ref=self._ref_column())
                               + " FROM messages m" + _FACTS + " WHERE m.key = ?",
                               (n - 1, keys[n - 1])).fetchone()
        if row is None:
            raise KeyError(message_id)
        return self._resolved([row], n_of)[0]


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

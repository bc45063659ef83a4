"""Reading the message store (``analysis.sqlite``, :mod:`harness.parse.store` writes it):
messages in id order from a cursor, or one by id, never all of them in memory."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from harness.parse.message import Message, MessageKind
from harness.parse.rowcodec import decoded, loads
from harness.parse.store import ANALYSIS_DB, numbers_of
from harness.text import is_digits

_COLS = ("kind, t, direction, f.source, f.conn, phase, f.protocol, host, f.ip, f.port, f.sni,"
         " f.tls_version, f.cipher, method, url, status, headers, {body}, body_len_wire,"
         " events, request_key, sdk, frames, meta, notes,"
         " (SELECT group_concat(l.b) FROM links l WHERE l.a = m.key)")
_FACTS = " CROSS JOIN facts f ON f.id = m.facts"
_FROM = " FROM json_each(?) j CROSS JOIN messages m ON m.key = j.value" + _FACTS
_BODY_LEN = "CASE typeof(body) WHEN 'blob' THEN length(body) ELSE body END"
"""What ``messages(with_body=False)`` reads for a body: its length where it is a BLOB (bytes:
SQLite reads the length from the record's header, not the body), else the body (a str; its
``len`` is taken in Python, where SQLite's ``length`` would stop at a NUL). The store had a
column of ``len(body)`` to read here (format 4): a value to bind and record a row (10.1 M
instructions, 0.44% of the 20 MB run, callgrind) for what the body's own header says."""
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
        sql = "SELECT j.key, " + _COLS.format(body="body" if with_body else _BODY_LEN) + _FROM
        args: list[str] = [text]
        if kinds is not None:
            ks = [k.value for k in kinds]
            sql += f" WHERE kind IN ({','.join('?' * len(ks))})"
            args += ks
        cur = self._db.execute(sql, args)
        try:
            last = -1
            for row in cur:
                if row[0] <= last:
                    raise RunDirError("message store read out of order", path=str(self.path))
                last = row[0]
                yield _message(row, n_of, with_body)
        finally:
            cur.close()

    def get(self, message_id: str) -> Message:
        """One message by id; KeyError when there is none."""
        if not message_id.startswith("m") or not is_digits(message_id[1:]):
            raise KeyError(message_id)
        _text, keys, n_of = self._numbering()
        n = int(message_id[1:])
        if not 0 < n <= len(keys):
            raise KeyError(message_id)
        row = self._db.execute("SELECT ?, " + _COLS.format(body="body") + " FROM messages m"
                               + _FACTS + " WHERE m.key = ?", (n - 1, keys[n - 1])).fetchone()
        if row is None:
            raise KeyError(message_id)
        return _message(row, n_of, True)


def _message(row: tuple[Any, ...], n_of: list[int], with_body: bool) -> Message:
    # Rows are written by StoreWriter only, so their types are known: no per-field checks
    # (this runs once per message for every reader).
    (i, kind, t, direction, source, conn, phase, protocol, host, ip, port, sni, tls_version,
     cipher, method, url, status, headers, body, body_len_wire, events, req, sdk, frames,
     meta, notes, links) = row
    return decoded(
        f"m{i + 1}", kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,
        tls_version, cipher, method, url, status, headers, body, body_len_wire, events,
        None if req is None else f"m{n_of[req]}",
        tuple(f"m{x}" for x in sorted(n_of[int(v)] for v in links.split(","))) if links
        else (), sdk, frames, meta, notes, with_body)

"""``capture.sqlite`` read: :class:`CaptureReader`, the only way anything reads it (so the
format, :mod:`harness.capture.dbformat`, can move on behind ``FORMAT_VERSION``).
:mod:`harness.capture.rundir` re-exports these names."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.capture import connlist
from harness.capture.dbformat import (
    CONNECTION_COLUMNS,
    LATER_COLUMNS,
    Connection,
    Event,
    Marker,
    _open_to_read,
    _schema_columns,
    read_uri,
)
from harness.capture.runinfo import FORMAT_VERSION, is_int, is_number, kind_of
from harness.capture.streamrows import FieldsOnce, StreamRows
from harness.errors import RunDirError
from harness.text import no_lone_surrogates

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON

try:
    from harness.capture import _rows
except ImportError:  # pragma: no cover - a checkout that was never built: the sqlite3 module
    _rows = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_NOT_STREAM = " AND kind != 'stream'"
"""Added to a query on other kinds so SQLite may use ``events_kind``: that index leaves the
stream records out (SQLite only uses a partial index when the query's WHERE repeats its
condition). Stream records are nearly every row at full rate, and indexing them by kind cost
the recorder ~1.8 of ~10 µs per row on this machine (bench/README.md); their readers go by
connection (``events_conn``) or read everything. Run dirs written before keep their full
``events_kind`` index, which serves the same queries."""


def _fields(text: str) -> dict[str, JSON] | None:
    """An event's fields, or None when they are not a JSON object (a damaged row). A Java
    string can hold a lone UTF-16 surrogate (a title cut inside an emoji), which the agent's
    JSON keeps as a ``\\udXXX`` escape but UTF-8 (SQLite text, HTML, JSON written as UTF-8)
    cannot carry: it reads as U+FFFD here; ``capture.sqlite`` keeps the escape."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if type(value) is not dict:
        return None
    if "\\ud" in text or "\\uD" in text:
        value = no_lone_surrogates(value)
    return value  # type: ignore[no-any-return]


_STREAM_SQL = ("SELECT seq, t, kind, direction, data, orig_len, truncated, fields, pid, tid,"
               " hook FROM events WHERE seq > ? AND conn = ? ORDER BY seq")
"""A connection's events, as :meth:`CaptureReader.events` selects them (``conn`` left out:
it is the one asked for), in the order ``_rows.Database.stream`` reads them: the eight columns
it joins the stream rows by first."""
_RUN_SQL = ("SELECT seq, t, kind, direction, data, orig_len, truncated, fields, pid, tid,"
            " hook, conn FROM events WHERE seq > ? ORDER BY seq")
"""The rows after a seq in table order, :data:`_STREAM_SQL`'s columns and the connection's:
how ``_rows.Database.stream`` reads a connection's rows that follow one another ("runs")."""
_STREAM_TYPES = "IIt"
"""What :data:`_STREAM_SQL`'s columns after those eight hold in a row that
:meth:`CaptureReader.events` reads as it is (``_rows.c``'s fits(): pid and tid INTEGER or NULL,
hook TEXT; ``_rows.c`` asks of the eight what events() does: t REAL, kind TEXT, direction TEXT
or NULL, data BLOB or NULL, orig_len INTEGER or NULL, fields TEXT)."""

MMAP_BYTES = 1 << 30
"""How much of ``capture.sqlite`` the C reader maps (``PRAGMA mmap_size``; SQLite reads the
rest as usual)."""

# --- reading --------------------------------------------------------------------------------


_warned: set[tuple[str, str, str]] = set()
"""(database, table, first skipped row) already logged: the readers of one command (analyze
opens several) say it once."""


class CaptureReader:
    """Read-only view of ``capture.sqlite``; safe while a recorder is still writing.

    A file that is not a capture database (not SQLite, a table or column missing) is a
    RunDirError when opened. A row that cannot be read (a time that is not a number, fields
    that are not a JSON object) is skipped, counted in :attr:`skipped` and logged once: the
    rest of the capture is still evidence, and the verdicts count what was skipped
    (``RunFacts.unreadable_rows``)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise RunDirError("no capture.sqlite", path=str(path))
        self.path = path
        self.skipped: dict[str, int] = {}
        """Table → rows skipped as unreadable so far."""
        self._first: dict[str, str] = {}
        self._bad: set[tuple[str, str]] = set()
        self._db = _open_to_read(path)
        self._later: dict[tuple[str, str], str] = {}
        """Columns of :data:`LATER_COLUMNS` this (older) capture lacks → what they read as."""
        self._conns: dict[str, Connection] | None = None
        self._seekable: bool | None = None
        """Whether :meth:`conn_ids` may seek (``connlist.seekable``), once asked."""
        self._stream_fields = FieldsOnce(_fields)
        """How :meth:`stream_rows` reads fields texts: each once a reader."""
        try:
            with self._reading():
                self._check_schema()
        except RunDirError as exc:
            self._db.close()
            wal, shm = (path.with_name(path.name + s) for s in ("-wal", "-shm"))
            if wal.exists() and not shm.exists() and not os.access(path.parent, os.W_OK):
                # never read without the WAL: its batches would be silently missing
                raise RunDirError(
                    f"{wal.name} holds batches not yet in {path.name} (a capture cut short or "
                    f"still running), and reading them needs SQLite's {shm.name} next to it, "
                    "which this read-only directory refuses: copy the run dir somewhere "
                    "writable", path=str(path)) from exc
            raise
        self._fast: _rows.Database | None = None
        """The events' rows through SQLite's C API (``_rows.c``), when it is built."""
        self._run: str | None = None
        """:data:`_RUN_SQL` when the C reader may read a connection's rows in table order."""
        if _rows is not None:
            with contextlib.suppress(_rows.Fallback):
                fast = _rows.Database(read_uri(path))
                # read by mapping the file, not a copy per page
                list(fast.rows(f"PRAGMA mmap_size={MMAP_BYTES}", ()))
                self._fast = fast
                # runs compare the connection's UTF-8 bytes, as SQL compares it in a
                # UTF-8 database (the recorder's)
                if list(fast.rows("PRAGMA encoding", ())) == [("UTF-8",)]:
                    self._run = _RUN_SQL

    @contextlib.contextmanager
    def _reading(self) -> Iterator[None]:
        """SQLite's own errors (not a database, a damaged page) as a RunDirError naming it."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise RunDirError(f"cannot read the capture database: {exc}",
                              path=str(self.path)) from exc

    def _check_schema(self) -> None:
        have = {t for (t,) in self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        want = _schema_columns()
        if not have & set(want):
            raise RunDirError("no capture tables (an empty database, or not a capture)",
                              path=str(self.path))
        for table, columns in want.items():
            if table not in have:
                raise RunDirError(f"no table {table!r}: not a complete capture database",
                                  path=str(self.path))
            got = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            for column in columns:
                later = LATER_COLUMNS.get((table, column))
                if column in got:
                    continue
                if later is not None and self._format() < later[0]:
                    self._later[(table, column)] = later[1]
                    continue
                raise RunDirError(f"no column {column!r} in table {table!r}: not a "
                                  "complete capture database", path=str(self.path))

    def _format(self) -> int:
        """The format ``meta`` says the capture is of; unreadable, the current one (so a
        column missing from it is damage, not age)."""
        row = self._db.execute("SELECT value FROM meta WHERE key='format_version'").fetchone()
        text = row[0] if row else None
        if type(text) is str and text.isascii() and text.isdigit():
            return int(text)
        return FORMAT_VERSION

    def _column(self, table: str, column: str) -> str:
        """``column`` in a SELECT, or what an older capture without it reads as."""
        return self._later.get((table, column), column)

    def _skip(self, table: str, row: str, why: str) -> None:
        if (table, row) in self._bad:  # read again (the builder reads a UDP conn twice)
            return
        self._bad.add((table, row))
        self.skipped[table] = self.skipped.get(table, 0) + 1
        self._first.setdefault(table, f"{row}: {why}")

    def close(self) -> None:
        self._db.close()
        if self._fast is not None:
            self._fast.close()
        for table, n in self.skipped.items():
            key = (str(self.path), table, self._first[table])
            if key not in _warned:
                _warned.add(key)
                log.warning("%s: %d unreadable row(s) of %s skipped (first: %s)", self.path,
                            n, table, self._first[table])

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connections(self) -> dict[str, Connection]:
        if self._conns is None:
            cols = ", ".join(CONNECTION_COLUMNS)
            with self._reading():
                rows = self._all(f"SELECT {cols} FROM connections", ())
            self._conns = {r[0]: Connection(*r) for r in rows}
        return self._conns

    def events(self, kinds: Iterable[str] | None = None, conn: str | None = None,
               after_seq: int = 0) -> Iterator[Event]:
        conns = self.connections()
        # one connection's rows all hold ``conn`` (a text equal to it, SQL compares exactly):
        # NULL is read instead, one text object per row less
        sql = (f"SELECT seq, t, kind, pid, tid, {'conn' if conn is None else 'NULL'},"
               " direction, hook, data, orig_len, truncated, fields FROM events WHERE seq > ?")
        args: list[object] = [after_seq]
        if kinds is not None:
            ks = list(kinds)
            sql += f" AND kind IN ({','.join('?' * len(ks))})"
            args += ks
            if "stream" not in ks:
                sql += _NOT_STREAM
        if conn is not None:
            sql += " AND conn = ?"
            args.append(conn)
        sql += " ORDER BY seq"
        new = tuple.__new__  # what Event._make calls, without its Python frame per row
        # fields already read, by their text: most events of a kind carry the same few
        # (a connection's stream events all say {"layer":"tls"}); each event still gets its
        # own (shallow) copy
        fields_of = FieldsOnce(_fields)
        with self._reading():
            for row in self._rows(sql, args):
                (seq, t, kind, pid, tid, c, direction, hook, data, orig_len, trunc, fields) = row
                if c is None:
                    c = conn
                if not (type(t) is float and type(kind) is str and type(hook) is str
                        and (data is None or type(data) is bytes) and type(fields) is str
                        and (c is None or type(c) is str)
                        and (direction is None or type(direction) is str)
                        and (pid is None or type(pid) is int)
                        and (tid is None or type(tid) is int)
                        and (orig_len is None or type(orig_len) is int)):
                    fixed = self._event_row((seq, t, kind, pid, tid, c, direction, hook, data,
                                             orig_len, trunc, fields))
                    if fixed is None:
                        continue
                    (seq, t, kind, pid, tid, c, direction, hook, data, orig_len, trunc,
                     fields) = fixed
                value = fields_of(fields)
                if value is None:
                    self._skip("events", f"seq {seq}", "fields are not a JSON object")
                    continue
                yield new(Event, (seq, t, kind, pid, tid, c, direction, hook, data, orig_len,
                                  bool(trunc), value, conns.get(c) if c else None))

    def stream_rows(self, conn: str) -> StreamRows:
        """The events of connection ``conn`` (:meth:`events`, ``conn=conn``) as
        :class:`StreamRows`. Joined by the C reader while every row is one the recorder
        writes (each value of its column's type, fields a JSON object); otherwise through
        :meth:`events`, which then reads, converts or skips rows as it always did."""
        if self._fast is not None:
            with contextlib.suppress(_rows.Fallback):
                got = self._fast.stream(_STREAM_SQL, (0, conn), _STREAM_TYPES, self._run)
                if got is not None:
                    rows = StreamRows.of_stream(got, conn, self.connections().get(conn)
                                                if conn else None, self._stream_fields)
                    if rows is not None:
                        return rows
        return StreamRows.of_events(self.events(conn=conn))

    def _rows(self, sql: str, args: list[object]) -> Iterator[tuple[Any, ...]]:
        """The rows of an events query (``args[0]`` the seq they come after, the rows in seq
        order, seq first), as the sqlite3 module reads them: through ``_rows`` while it can,
        and from the row it cannot read on (``_rows.Fallback``), through the module."""
        if self._fast is not None:
            after = args[0]
            try:
                for row in self._fast.rows(sql, tuple(args)):  # type: ignore[arg-type]
                    yield row
                    after = row[0]
                return
            except _rows.Fallback:
                args = [after, *args[1:]]
        yield from self._db.execute(sql, args)

    def _event_row(self, row: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """A row of the wrong types (the recorder never writes one; another tool or a damaged
        file can): what is only stored otherwise is read as it should be (data as TEXT is its
        UTF-8 bytes, a pid that is not a number is unknown); what cannot be, skips the row."""
        (seq, t, kind, pid, tid, c, direction, hook, data, orig_len, trunc, fields) = row
        why = None
        if not is_number(t):
            why = f"t is {kind_of(t)}, not a number"
        elif type(kind) is not str or type(hook) is not str or type(fields) is not str:
            why = "kind, hook or fields is not text"
        elif not (c is None or type(c) is str) or not (direction is None
                                                       or type(direction) is str):
            why = "conn or direction is not text"
        elif data is not None and type(data) is not bytes and type(data) is not str:
            why = f"data is {kind_of(data)}, not bytes"
        if why is not None:
            self._skip("events", f"seq {seq}", why)
            return None
        if type(data) is str:
            data = data.encode("utf-8")
        return (seq, float(t), kind, pid if is_int(pid) else None,
                tid if is_int(tid) else None, c, direction, hook, data,
                orig_len if is_int(orig_len) else None, trunc, fields)

    def conn_ids(self, kind: str = "stream") -> list[tuple[str | None, int]]:
        """Each connection id with events of ``kind``, with its first seq, in capture order
        (so a reader can then go one connection at a time with ``events(conn=...)``): one
        seek a connection where the capture allows it (:mod:`harness.capture.connlist`)."""
        with self._reading():
            if self._seekable is None:
                self._seekable = connlist.seekable(self._db)
            sql = connlist.BY_SEEK if self._seekable else connlist.BY_GROUP
            rows = self._all(sql, (kind,))
        return [(c, int(f)) for c, f in rows]

    def count(self, kind: str | None = None) -> int:
        with self._reading():
            if kind is None:
                return int(self._all("SELECT count(*) FROM events", ())[0][0])
            return int(self._all(
                "SELECT count(*) FROM events WHERE kind=?"
                + ("" if kind == "stream" else _NOT_STREAM), (kind,))[0][0])

    def _all(self, sql: str, args: tuple[str, ...]) -> list[tuple[Any, ...]]:
        """A query's rows as the sqlite3 module's ``fetchall()`` gives them (inside
        :meth:`_reading`), through the C reader while it can: its connection maps the file
        (:data:`MMAP_BYTES`), where the module's reads each page it visits, a syscall each
        (200 MB bench, strace: 7,017 pread64 in conn_ids' seeks, 1,892 in count()'s walk of
        ``events_conn`` for the store's fingerprint)."""
        if self._fast is not None:
            with contextlib.suppress(_rows.Fallback):  # then as the module reads it
                return list(self._fast.rows(sql, args))
        return self._db.execute(sql, args).fetchall()

    def markers(self, kind: str | None = None) -> list[Marker]:
        """The markers; one whose time, kind or name cannot be read is skipped, a detail that
        is not a JSON object reads as empty (logged: the marker itself still counts)."""
        sql = "SELECT id, t, kind, name, detail FROM markers"
        with self._reading():
            rows = (self._db.execute(sql + " WHERE kind=? ORDER BY id", (kind,)) if kind
                    else self._db.execute(sql + " ORDER BY id")).fetchall()
        out = []
        for i, t, k, n, d in rows:
            if not is_number(t) or type(k) is not str or type(n) is not str:
                self._skip("markers", f"id {i}", "t is not a number or kind, name not text")
                continue
            detail = _fields(d) if type(d) is str else None
            if detail is None:
                detail = {}
                key = (str(self.path), "markers.detail", str(i))
                if key not in _warned:
                    _warned.add(key)
                    log.warning("%s: markers row id %s: detail is not a JSON object; read as "
                                "{}", self.path, i)
            out.append(Marker(i, float(t), k, n, detail))
        return out

    def protocol_errors(self) -> list[tuple[int, float, int | None, str, str | None]]:
        with self._reading():
            return list(self._db.execute(
                "SELECT id, t, pid, error, message FROM protocol_errors ORDER BY id"))

    def batches(self) -> list[tuple[int, int, int, float, int, int, int]]:
        """The batches: (id, pid, seq, received, records, bytes, agent), ``agent`` the
        instance of the agent within its pid (each numbers its batches from 0). One whose
        numbers cannot be read is skipped (its sequence number missing then shows as a gap,
        which the verdicts' gates count)."""
        with self._reading():
            rows = self._db.execute(
                "SELECT id, pid, seq, received, records, bytes, "
                f"{self._column('batches', 'agent')} FROM batches ORDER BY id").fetchall()
        out = []
        for row in rows:
            i, pid, seq, received, records, nbytes, agent = row
            if not (is_int(pid) and is_int(seq) and is_number(received)
                    and is_int(records) and is_int(nbytes) and is_int(agent)):
                self._skip("batches", f"id {i}", "pid, seq, received, records, bytes or agent "
                           "is not a number")
                continue
            out.append(row)
        return out

    def stream_totals(self, direction: str = "out") -> list[tuple[str, str | None, str | None,
                                                                   int, int]]:
        """(hook, conn, layer, bytes, records) of the stream events in one direction, summed
        in SQL (original lengths, so truncation does not shrink them): byte coverage without
        reading the payloads."""
        with self._reading():
            rows = self._db.execute(
                "SELECT e.hook, e.conn, c.layer, "
                "COALESCE(SUM(COALESCE(e.orig_len, LENGTH(e.data), 0)), 0), COUNT(*) "
                "FROM events e LEFT JOIN connections c ON c.conn = e.conn "
                "WHERE e.kind = 'stream' AND e.direction = ? GROUP BY e.hook, e.conn",
                (direction,)).fetchall()
        return [(str(h), c, layer, int(b), int(n)) for h, c, layer, b, n in rows]

"""Durable writes into ``capture.sqlite``: one transaction per agent batch.

The recorder calls :meth:`CaptureWriter.write_batch` for each decoded batch; tests and
fixture builders (``harness.testing``) use the same writer, so what they build is exactly
what a capture would have written.
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from harness.capture.dbformat import LATER_COLUMNS, _open_to_read
from harness.capture.rundir import CONNECTION_COLUMNS, FORMAT_VERSION, SCHEMA, _connect
from harness.errors import RunDirError
from harness.protocol import JSON, is_int64
from harness.text import no_lone_surrogates

_NO_FIELDS: Mapping[str, JSON] = MappingProxyType({})

FIELDS_CACHE = 4096
"""Distinct ``fields`` encodings the writer keeps (bounded: a dict of them is cleared when full)."""


class EventRow(NamedTuple):
    """One row of ``events`` as the writer takes it (conn already resolved). A NamedTuple,
    not a frozen dataclass: the channel makes one per record at full rate, and a frozen
    dataclass's __init__ cost 1.8 µs against 0.4 µs (bench/README.md, hook overhead)."""

    t: float
    kind: str
    hook: str
    pid: int | None = None
    tid: int | None = None
    conn: str | None = None
    direction: str | None = None
    data: bytes | None = None
    orig_len: int | None = None
    truncated: bool = False
    fields: Mapping[str, JSON] = _NO_FIELDS


def _refuse_older(path: Path) -> None:
    """The writer appends only to a capture of the current format. Giving an older one the
    later columns would rewrite a run dir that may be archived evidence, and no command
    appends to an existing run (each capture creates its own run dir), so it is refused."""
    if not path.exists():
        return
    db = _open_to_read(path)
    try:
        for (table, column), (added, _old) in LATER_COLUMNS.items():
            have = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
            if have and column not in have:
                raise RunDirError(
                    f"a capture of format {added - 1} or older (no {table}.{column}); this "
                    f"harness appends only to format {FORMAT_VERSION} and never rewrites an "
                    "older capture: record a new run", path=str(path))
    except sqlite3.DatabaseError:
        pass  # not a database: opening it to write says so
    finally:
        db.close()


class CaptureWriter:
    """Appends to a run's ``capture.sqlite``. Context manager; close never raises."""

    def __init__(self, path: Path) -> None:
        self.path = path
        _refuse_older(path)
        self._db = _connect(path)
        self._db.executescript(SCHEMA)
        self._json_cache: dict[object, str] = {}

    def __enter__(self) -> CaptureWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # teardown never throws
            self._db.close()

    def write_batch(
        self,
        pid: int,
        seq: int,
        rows: Iterable[EventRow],
        connections: Iterable[Mapping[str, JSON]] = (),
        received: float | None = None,
        agent: int = 0,
    ) -> int:
        """Write one batch atomically; returns the batch's row id. ``agent``: which agent
        loaded into ``pid`` sent it (0 first, 1 after an exec...; each numbers from 0)."""
        rows = list(rows)
        nbytes = sum(len(r.data) for r in rows if r.data)
        # The channel gives every record of one stream in a batch the same fields object:
        # encoded once per object (by id; the rows keep the objects alive for this call).
        by_id: dict[int, str] = {}

        def fields_json(f: Mapping[str, JSON]) -> str:
            j = by_id.get(id(f))
            if j is None:
                j = by_id[id(f)] = self._fields_json(f)
            return j

        with self._db:
            cur = self._db.execute(
                "INSERT INTO batches(pid, seq, received, records, bytes, agent)"
                " VALUES(?,?,?,?,?,?)",
                (pid, seq, received if received is not None else time.time(), len(rows), nbytes,
                 agent),
            )
            batch_id = int(cur.lastrowid or 0)
            for c in connections:
                self._upsert_connection(c)
            self._db.executemany(
                "INSERT INTO events(batch, t, kind, pid, tid, conn, direction, hook, data,"
                " orig_len, truncated, fields) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (batch_id, r.t, r.kind, r.pid, r.tid, r.conn, r.direction, r.hook, r.data,
                     r.orig_len if r.orig_len is not None else (len(r.data) if r.data else None),
                     int(r.truncated), fields_json(r.fields))
                    for r in rows
                ],
            )
        return batch_id

    def _fields_json(self, fields: Mapping[str, JSON]) -> str:
        """``fields`` as compact JSON; the few shapes native records repeat (layer and fd) are
        encoded once: json.dumps per row was a third of the writer's time at full rate."""
        if not fields:
            return "{}"
        # the types are in the key: 1, 1.0 and True are equal but encode differently; a
        # float is not cached at all, as 0.0 and -0.0 are equal floats (the native shapes
        # this cache is for hold none)
        types = tuple(map(type, fields.values()))
        if float in types:
            return json.dumps(dict(fields), separators=(",", ":"))
        try:
            key = (tuple(fields.items()), types)
            cached = self._json_cache.get(key)
        except TypeError:  # a list or dict value: not hashable, encode every time
            return json.dumps(dict(fields), separators=(",", ":"))
        if cached is None:
            cached = json.dumps(dict(fields), separators=(",", ":"))
            if len(self._json_cache) >= FIELDS_CACHE:
                self._json_cache.clear()
            self._json_cache[key] = cached
        return cached

    def _upsert_connection(self, c: Mapping[str, JSON]) -> None:
        """Insert a connection or fill in facts learned later (never erase known ones)."""
        # A lone surrogate (an app-chosen ALPN name, say) cannot be stored as text: the
        # column gets U+FFFD, as readers show the record's fields; the events row keeps it.
        values = {k: no_lone_surrogates(v) if isinstance(v, str) and not v.isascii() else v
                  for k in CONNECTION_COLUMNS for v in (c.get(k),)}
        cols = ", ".join(CONNECTION_COLUMNS)
        marks = ", ".join("?" * len(CONNECTION_COLUMNS))
        updates = ", ".join(
            f"{k}=COALESCE(excluded.{k}, connections.{k})" for k in CONNECTION_COLUMNS[1:]
        )
        self._db.execute(
            f"INSERT INTO connections({cols}) VALUES({marks}) "
            f"ON CONFLICT(conn) DO UPDATE SET {updates}",
            tuple(values.values()),
        )

    def upsert_connections(self, conns: Iterable[Mapping[str, JSON]]) -> None:
        with self._db:
            for c in conns:
                self._upsert_connection(c)

    def protocol_error(self, error: str, message: str | None, data: bytes | None,
                       pid: int | None = None, t: float | None = None) -> None:
        """Keep an agent message the harness refused. Whatever could not be stored otherwise
        ends up here, so no value of it may make the insert fail: a pid SQLite cannot hold
        is left out (the raw message has it), and text UTF-8 cannot carry (a lone surrogate
        from a JS string) keeps its escape."""
        if pid is not None and not is_int64(pid):
            error, pid = f"{error} (pid {pid!r:.40} does not fit an integer column)", None
        if t is None or not math.isfinite(t):
            t = time.time()
        error = _storable(error)
        text = None if message is None else _storable(message)
        # Kept whole up to what SQLite stores in one row (1e9 bytes unless built otherwise):
        # beyond, cut, and the error says how much was cut.
        room = self._db.getlimit(sqlite3.SQLITE_LIMIT_LENGTH) - len(error) - 4096
        size = 0 if text is None else len(text) if text.isascii() else len(text.encode())
        if size + len(data or b"") > room:
            cut = []
            if data is not None and len(data) > room // 2:
                cut.append(f"data cut to {room // 2} of {len(data)} bytes")
                data = data[:room // 2]
            if text is not None and size > room - len(data or b""):
                keep = max(0, room - len(data or b""))
                text = text.encode()[:keep].decode("utf-8", "ignore")
                cut.append(f"message cut to {len(text)} of {len(message or '')} characters")
            error = f"{error} ({'; '.join(cut)}: beyond what the store holds)"
        with self._db:
            self._db.execute(
                "INSERT INTO protocol_errors(t, pid, error, message, data) VALUES(?,?,?,?,?)",
                (t, pid, error, text, data),
            )

    def marker(self, kind: str, name: str, detail: Mapping[str, JSON] | None = None,
               t: float | None = None) -> None:
        """A durable note in the timeline: phase start/end, step failure, agent detach."""
        with self._db:
            self._db.execute(
                "INSERT INTO markers(t, kind, name, detail) VALUES(?,?,?,?)",
                (t if t is not None else time.time(), kind, name,
                 json.dumps(dict(detail or {}), separators=(",", ":"))),
            )


def _storable(text: str) -> str:
    """``text`` as SQLite can store it: a lone surrogate (which UTF-8 cannot carry) written
    as its ``\\udXXX`` escape, as the raw messages' JSON writes it."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text

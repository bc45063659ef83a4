"""``capture.sqlite``'s format: its schema, the columns later formats added, how it is
opened (to write, to read without changing it), and the records readers get. The reader is
:mod:`harness.capture.capturedb`; :mod:`harness.capture.rundir` re-exports these names."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches(
  id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, seq INTEGER NOT NULL,
  received REAL NOT NULL, records INTEGER NOT NULL, bytes INTEGER NOT NULL,
  agent INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS events(
  seq INTEGER PRIMARY KEY,
  batch INTEGER REFERENCES batches(id),
  t REAL NOT NULL, kind TEXT NOT NULL, pid INTEGER, tid INTEGER,
  conn TEXT, direction TEXT, hook TEXT NOT NULL,
  data BLOB, orig_len INTEGER, truncated INTEGER NOT NULL DEFAULT 0,
  fields TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS events_conn ON events(conn, seq);
CREATE INDEX IF NOT EXISTS events_kind ON events(kind, seq) WHERE kind != 'stream';
CREATE TABLE IF NOT EXISTS connections(
  conn TEXT PRIMARY KEY, pid INTEGER, layer TEXT, fd INTEGER, transport TEXT,
  local_ip TEXT, local_port INTEGER, peer_ip TEXT, peer_port INTEGER,
  sni TEXT, tls_version TEXT, cipher TEXT, alpn TEXT, library TEXT, first_t REAL);
CREATE TABLE IF NOT EXISTS protocol_errors(
  id INTEGER PRIMARY KEY, t REAL NOT NULL, pid INTEGER, error TEXT NOT NULL,
  message TEXT, data BLOB);
CREATE TABLE IF NOT EXISTS markers(
  id INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}');
"""

WAL_CHECKPOINT_PAGES = 16384
"""Pages of WAL (4 KiB each) the writer lets accumulate before a checkpoint."""

CONNECTION_COLUMNS = (
    "conn", "pid", "layer", "fd", "transport", "local_ip", "local_port", "peer_ip",
    "peer_port", "sni", "tls_version", "cipher", "alpn", "library", "first_t",
)


LATER_COLUMNS: Mapping[tuple[str, str], tuple[int, str]] = {
    ("batches", "agent"): (2, "0"),
}
"""Columns a later format added: (table, column) → (the format that added it, what a
capture of an older format reads as, in SQL). ``batches.agent`` (format 2) is the instance
of the agent that sent the batch within its pid (0 for the first script loaded into a pid, 1
after an exec...); a format-1 capture had one agent per pid as far as it knew, so 0.

An older capture is read as it is, never upgraded: a run dir is evidence (a lab archives it,
hashes it, keeps it read-only, opens it with the harness version that made it), so no reader
writes to ``capture.sqlite`` (:class:`CaptureReader` opens it read-only), and the writer only
appends to a capture of the current format (``writer.CaptureWriter``)."""


def _connect(path: Path) -> sqlite3.Connection:
    # Opened by one thread and used by the recorder's writer thread (one at a time).
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    # Checkpoint every 64 MB of WAL instead of 4 MB: the checkpoint (and its fsync) was
    # a third of an insert's cost at full rate on a busy disk (bench/README.md). What a
    # commit guarantees is unchanged; readers see committed batches either way.
    db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    return db


def _open_to_read(path: Path) -> sqlite3.Connection:
    """``capture.sqlite`` opened so that reading cannot change it. A read-write connection
    would: the last one to close folds the WAL into the file (a capture cut short leaves its
    last batches there), and it cannot open a read-only file at all. With a WAL (a recorder
    still writing, or one that died) it is opened read-only, which reads the WAL's batches
    and folds nothing in (SQLite then keeps ``-shm`` next to it, as a writer does). With no
    WAL, nothing writes to the file (a recorder only writes to a run dir it has just
    created, and keeps its WAL while it does), so it is opened as immutable: no lock, no
    side file, a read-only directory is fine."""
    return sqlite3.connect(read_uri(path), uri=True)


def read_uri(path: Path) -> str:
    """The URI ``_open_to_read`` opens (and ``_rows.Database``: the same rules)."""
    uri = path.absolute().as_uri()
    side = [path.with_name(path.name + s) for s in ("-wal", "-journal")]
    if any(p.exists() for p in side):
        return f"{uri}?mode=ro"
    return f"{uri}?mode=ro&immutable=1"


@dataclass(frozen=True, slots=True)
class Connection:
    """A row of ``connections``: what the hooks saw of one connection (its endpoints, TLS)."""

    conn: str
    pid: int | None = None
    layer: str | None = None
    fd: int | None = None
    transport: str | None = None
    local_ip: str | None = None
    local_port: int | None = None
    peer_ip: str | None = None
    peer_port: int | None = None
    sni: str | None = None
    tls_version: str | None = None
    cipher: str | None = None
    alpn: str | None = None
    library: str | None = None
    first_t: float | None = None


class Event(NamedTuple):
    """One recorded event, as readers see it (connection facts joined in). A NamedTuple,
    not a frozen dataclass, for the reason of ``writer.EventRow``: a reader makes one per
    row (31,000 for a 20 MB capture), and the dataclass's __init__ was most of the cost of
    reading a row that SQLite had already fetched."""

    seq: int
    t: float
    kind: str
    pid: int | None
    tid: int | None
    conn: str | None
    direction: str | None
    hook: str
    data: bytes | None
    orig_len: int | None
    truncated: bool
    fields: Mapping[str, JSON]
    connection: Connection | None = None


@dataclass(frozen=True, slots=True)
class Marker:
    """A row of ``markers``: a phase's start or end, a failed step, an agent's detach."""

    id: int
    t: float
    kind: str
    name: str
    detail: Mapping[str, JSON]


@functools.cache
def _schema_columns() -> dict[str, tuple[str, ...]]:
    """Each table of :data:`SCHEMA` with its columns, as SQLite itself reads the schema."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: tuple(r[1] for r in db.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        db.close()

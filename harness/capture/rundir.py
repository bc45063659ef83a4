"""The run directory: ``run.json`` + ``capture.sqlite`` (a contract other scripts rely on).

``capture.sqlite`` is written as events arrive (WAL, one transaction per agent batch), so a
crash of the harness, the agent or the device loses at most the batch in flight. Derived
files (messages, findings, verdicts, report) are written next to it by later steps and can
always be rebuilt from it.

Readers use :class:`CaptureReader`; they never open the database with their own SQL, so
the format can move on behind :data:`FORMAT_VERSION` and :data:`MIGRATIONS`.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import RunDirError
from harness.protocol import JSON
from harness.text import no_lone_surrogates

FORMAT_VERSION = 1
RUN_JSON = "run.json"
CAPTURE_DB = "capture.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches(
  id INTEGER PRIMARY KEY, pid INTEGER NOT NULL, seq INTEGER NOT NULL,
  received REAL NOT NULL, records INTEGER NOT NULL, bytes INTEGER NOT NULL);
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

_NOT_STREAM = " AND kind != 'stream'"
"""Added to a query on other kinds so SQLite may use ``events_kind``: that index leaves the
stream records out (SQLite only uses a partial index when the query's WHERE repeats its
condition). Stream records are nearly every row at full rate, and indexing them by kind cost
the recorder ~1.8 of ~10 µs per row on this machine (bench/README.md); their readers go by
connection (``events_conn``) or read everything. Run dirs written before keep their full
``events_kind`` index, which serves the same queries."""


def _fields(text: str) -> dict[str, JSON]:
    """An event's fields. A Java string can hold a lone UTF-16 surrogate (a title cut inside
    an emoji), which the agent's JSON keeps as a ``\\udXXX`` escape but UTF-8 (SQLite
    text, HTML, JSON written as UTF-8) cannot carry: it reads as U+FFFD here;
    ``capture.sqlite`` keeps the escape."""
    value = json.loads(text)
    if "\\ud" in text or "\\uD" in text:
        value = no_lone_surrogates(value)
    return value  # type: ignore[no-any-return]


WAL_CHECKPOINT_PAGES = 16384
"""Pages of WAL (4 KiB each) the writer lets accumulate before a checkpoint."""

CONNECTION_COLUMNS = (
    "conn", "pid", "layer", "fd", "transport", "local_ip", "local_port", "peer_ip",
    "peer_port", "sni", "tls_version", "cipher", "alpn", "library", "first_t",
)

MIGRATIONS: Mapping[int, Callable[[sqlite3.Connection, dict[str, Any]], None]] = {}
"""``MIGRATIONS[n]`` upgrades a run dir of format n to n+1 (database and run.json dict)."""


# --- run.json -----------------------------------------------------------------------------


@dataclass(slots=True)
class Phase:
    name: str
    start: float
    end: float | None = None
    complete: bool = True
    """False when a step failed or the app died inside the phase."""
    state: dict[str, JSON] = field(default_factory=dict)
    """App state in force during the phase (incognito, signed_in, sync, usage_stats)."""
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Health:
    hooks_installed: int = 0
    hooks_skipped: int = 0
    hooks_failed: int = 0
    batches: int = 0
    records: int = 0
    sequence_gaps: int = 0
    protocol_errors: int = 0
    detached: list[dict[str, JSON]] = field(default_factory=list)
    """One entry per agent detach: pid, reason, t."""
    bytes_hooked_out: int = 0
    bytes_hooked_in: int = 0
    bytes_kernel_out: int | None = None
    bytes_kernel_in: int | None = None
    """From the device's egress counters where it has them; None where it does not."""
    ring_drops: int = 0
    ring_dropped_bytes: int = 0
    ring_waits: int = 0
    """The native rings' loss counters (summed over processes, as of each one's last batch):
    records dropped because both buffers stayed full past the wait limit, their bytes, and
    how often a hooked thread had to wait for a drain."""


BLINDING_DETACH = ("connection-terminated", "device-lost", "teardown-timeout",
                   "unrequested-detach", "not-instrumented", "lost-after-fork")
"""Detach reasons (the part before the first colon) after which the app may go on sending
unobserved, unlike the app exiting or the harness detaching at the end. Frida's own, and the
harness's: ``teardown-timeout`` (the final flush did not return, so batches may be missing;
``teardown-timeout-after-flush`` is not one), ``unrequested-detach`` (Frida said
application-requested while the harness had not detached), ``not-instrumented`` (a child
Frida announced but the harness could not instrument) and ``lost-after-fork`` (a child its
parent reaped that never reported; harness/capture/recorder.py)."""


def blinding_detach(reason: object) -> bool:
    """Whether a ``Health.detached`` reason leaves a blind spot (``BLINDING_DETACH``): the
    capture summary lists those processes and the verdicts' gates count them."""
    return str(reason).split(":", 1)[0] in BLINDING_DETACH


@dataclass(slots=True)
class RunInfo:
    """The contents of ``run.json``. Unknown keys in a newer file are kept in ``extra``."""

    run_id: str
    created: float
    format_version: int = FORMAT_VERSION
    started: float | None = None
    ended: float | None = None
    status: str = "created"
    """created | capturing | complete | interrupted | failed"""
    device: dict[str, JSON] = field(default_factory=dict)
    target: dict[str, JSON] = field(default_factory=dict)
    scenario: dict[str, JSON] = field(default_factory=dict)
    phases: list[Phase] = field(default_factory=list)
    tools: dict[str, JSON] = field(default_factory=dict)
    health: Health = field(default_factory=Health)
    command: list[str] = field(default_factory=list)
    """The command line that made the run (for the report's reproduce line)."""
    extra: dict[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str = RUN_JSON) -> RunInfo:
        known = {f for f in cls.__dataclass_fields__}
        try:
            kwargs = {k: v for k, v in data.items() if k in known and k != "extra"}
            kwargs["phases"] = [Phase(**p) for p in data.get("phases", [])]
            kwargs["health"] = Health(**data.get("health", {}))
            kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
            return cls(**kwargs)
        except TypeError as exc:
            raise RunDirError(f"run.json does not fit format {FORMAT_VERSION}: {exc}",
                              path=path) from exc


def new_run_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(3)}"


class RunDir:
    """A run directory on disk. Create with :meth:`create`, open with :meth:`open`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def capture_db(self) -> Path:
        return self.path / CAPTURE_DB

    @property
    def run_json(self) -> Path:
        return self.path / RUN_JSON

    def file(self, name: str) -> Path:
        return self.path / name

    @classmethod
    def create(cls, parent: Path, run_id: str | None = None) -> RunDir:
        rid = run_id or new_run_id()
        path = parent / rid
        path.mkdir(parents=True, exist_ok=False)
        run = cls(path)
        run.save_info(RunInfo(run_id=rid, created=time.time()))
        with _connect(run.capture_db) as db:
            db.executescript(SCHEMA)
            db.execute("INSERT OR REPLACE INTO meta VALUES('format_version', ?)",
                       (str(FORMAT_VERSION),))
        return run

    @classmethod
    def open(cls, path: Path | str) -> RunDir:
        """Open an existing run dir, migrating an older format in place."""
        p = Path(path)
        if not (p / RUN_JSON).is_file():
            raise RunDirError("not a run directory (no run.json)", path=str(p))
        run = cls(p)
        info = run._load_raw()
        version = info.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise RunDirError(
                f"run dir format {version!r} is newer than this harness ({FORMAT_VERSION});"
                " upgrade egress-harness", path=str(p / RUN_JSON), field="format_version")
        if version < FORMAT_VERSION:
            with _connect(run.capture_db) as db:
                while version < FORMAT_VERSION:
                    MIGRATIONS[version](db, info)
                    version += 1
                    info["format_version"] = version
                db.execute("INSERT OR REPLACE INTO meta VALUES('format_version', ?)",
                           (str(version),))
            _atomic_write_json(run.run_json, info)
        return run

    def _load_raw(self) -> dict[str, Any]:
        try:
            data = json.loads(self.run_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RunDirError(f"cannot read run.json: {exc}", path=str(self.run_json)) from exc
        if not isinstance(data, dict):
            raise RunDirError("run.json is not an object", path=str(self.run_json))
        return data

    def load_info(self) -> RunInfo:
        return RunInfo.from_json(self._load_raw(), str(self.run_json))

    def save_info(self, info: RunInfo) -> None:
        _atomic_write_json(self.run_json, info.to_json())

    def write_json(self, name: str, data: object) -> Path:
        """Write a derived JSON file (findings.json, verdicts.json...) atomically."""
        path = self.path / name
        _atomic_write_json(path, data)
        return path

    def reader(self) -> CaptureReader:
        return CaptureReader(self.capture_db)


def _atomic_write_json(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    # A lone surrogate in a string (a label made from captured bytes) is written as its JSON
    # escape, which is what backslashreplace writes: valid UTF-8, read back the same.
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as fh:
        if isinstance(data, list):
            # One item per line (findings.json holds 100,000s): json's C encoder writes each,
            # where indent= runs its pure-Python encoder (6% of a whole analyze).
            fh.write("[\n")
            fh.write(",\n".join(json.dumps(item, ensure_ascii=False) for item in data))
            fh.write("\n]" if data else "]")
        else:
            json.dump(data, fh, indent=2, sort_keys=False, ensure_ascii=False)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _connect(path: Path, readonly: bool = False) -> sqlite3.Connection:
    # Opened by one thread and used by the recorder's writer thread (one at a time).
    if readonly:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        db = sqlite3.connect(path, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint every 64 MB of WAL instead of 4 MB: the checkpoint (and its fsync) was
        # a third of an insert's cost at full rate on a busy disk (bench/README.md). What a
        # commit guarantees is unchanged; readers see committed batches either way.
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    return db


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connection:
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


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event, as readers see it (connection facts joined in)."""

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
    id: int
    t: float
    kind: str
    name: str
    detail: Mapping[str, JSON]


class CaptureReader:
    """Read-only view of ``capture.sqlite``; safe while a recorder is still writing."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise RunDirError("no capture.sqlite", path=str(path))
        self.path = path
        self._db = sqlite3.connect(path)
        self._conns: dict[str, Connection] | None = None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connections(self) -> dict[str, Connection]:
        if self._conns is None:
            cols = ", ".join(CONNECTION_COLUMNS)
            rows = self._db.execute(f"SELECT {cols} FROM connections")
            self._conns = {r[0]: Connection(*r) for r in rows}
        return self._conns

    def events(self, kinds: Iterable[str] | None = None, conn: str | None = None,
               after_seq: int = 0) -> Iterator[Event]:
        conns = self.connections()
        sql = ("SELECT seq, t, kind, pid, tid, conn, direction, hook, data, orig_len, truncated,"
               " fields FROM events WHERE seq > ?")
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
        for row in self._db.execute(sql, args):
            (seq, t, kind, pid, tid, c, direction, hook, data, orig_len, trunc, fields) = row
            yield Event(seq, t, kind, pid, tid, c, direction, hook, data, orig_len, bool(trunc),
                        _fields(fields), conns.get(c) if c else None)

    def conn_ids(self, kind: str = "stream") -> list[tuple[str | None, int]]:
        """Each connection id with events of ``kind``, with its first seq, in capture order
        (so a reader can then go one connection at a time with ``events(conn=...)``)."""
        rows = self._db.execute(
            "SELECT conn, min(seq) AS first FROM events WHERE kind=? GROUP BY conn"
            " ORDER BY first", (kind,))
        return [(c, int(f)) for c, f in rows]

    def count(self, kind: str | None = None) -> int:
        if kind is None:
            return int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])
        return int(self._db.execute(
            "SELECT count(*) FROM events WHERE kind=?" + ("" if kind == "stream" else _NOT_STREAM),
            (kind,)).fetchone()[0])

    def markers(self, kind: str | None = None) -> list[Marker]:
        sql = "SELECT id, t, kind, name, detail FROM markers"
        rows = (self._db.execute(sql + " WHERE kind=? ORDER BY id", (kind,)) if kind
                else self._db.execute(sql + " ORDER BY id"))
        return [Marker(i, t, k, n, json.loads(d)) for i, t, k, n, d in rows]

    def protocol_errors(self) -> list[tuple[int, float, int | None, str, str | None]]:
        return list(self._db.execute(
            "SELECT id, t, pid, error, message FROM protocol_errors ORDER BY id"))

    def batches(self) -> list[tuple[int, int, int, float, int, int]]:
        return list(self._db.execute(
            "SELECT id, pid, seq, received, records, bytes FROM batches ORDER BY id"))

    def stream_totals(self, direction: str = "out") -> list[tuple[str, str | None, str | None,
                                                                   int, int]]:
        """(hook, conn, layer, bytes, records) of the stream events in one direction, summed
        in SQL (original lengths, so truncation does not shrink them): byte coverage without
        reading the payloads."""
        return [(str(h), c, layer, int(b), int(n)) for h, c, layer, b, n in self._db.execute(
            "SELECT e.hook, e.conn, c.layer, "
            "COALESCE(SUM(COALESCE(e.orig_len, LENGTH(e.data), 0)), 0), COUNT(*) "
            "FROM events e LEFT JOIN connections c ON c.conn = e.conn "
            "WHERE e.kind = 'stream' AND e.direction = ? GROUP BY e.hook, e.conn",
            (direction,))]

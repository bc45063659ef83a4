"""Database.stream's runs (``harness/capture/rowstream.c``): a connection's rows read in
table order while they follow one another there, the (conn, seq) index between runs, against
the same call without runs (the index alone, itself checked against the events in
test_streamrows.py). On captures whose connections come in blocks of consecutive seqs,
interleaved or one after another, with gaps, damaged rows of the connection or of another
inside a block (a value not of its column's type, a text that is not UTF-8), and a
connection id stored as a BLOB of the same bytes (another connection to SQL): the same
result, the same None, or Fallback for both."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture import _rows
from harness.capture.capturedb import _RUN_SQL, _STREAM_SQL, _STREAM_TYPES, CaptureReader
from harness.capture.dbformat import read_uri
from harness.capture.streamrows import StreamRows
from tests.capture.blank import blank_capture
from tests.capture.test_rows import values
from tests.capture.test_rowstream import _same_all

COLUMNS = ["t", "kind", "pid", "tid", "direction", "hook", "data", "orig_len", "truncated",
           "fields"]
NULLABLE = {"pid", "tid", "direction", "data", "orig_len"}
good = st.fixed_dictionaries({
    "t": st.floats(0, 2e9).map(lambda t: ("?", t)),
    "kind": st.sampled_from(["stream"] * 8 + ["conn"]).map(lambda k: ("?", k)),
    "pid": st.sampled_from([("?", 7), ("?", None)]),
    "tid": st.sampled_from([("?", 1), ("?", None)]),
    "direction": st.sampled_from(["out", "in", None, "é"]).map(lambda d: ("?", d)),
    "hook": st.sampled_from(["native.tls.SSL_read", "java.é"]).map(lambda h: ("?", h)),
    # now and then past the C reader's first buffer
    "data": st.sampled_from([None, b"", b"GET /", b"\x00\x01", bytes(70_000)]
                            ).map(lambda b: ("?", b)),
    "orig_len": st.sampled_from([("?", None), ("?", 5), ("?", 10**6)]),
    "truncated": st.sampled_from([("?", 0), ("?", 1)]),
    "fields": st.sampled_from(['{"layer":"tls"}', "{}"]).map(lambda f: ("?", f)),
})


@st.composite
def row(draw: st.DrawFn, damage: int) -> dict[str, tuple[str, Any]]:
    """A row of the recorder's types, or (one in ``damage``) with one value of any type."""
    r = draw(good)
    if damage and draw(st.integers(1, damage)) == 1:
        column = draw(st.sampled_from(COLUMNS))
        # what the schema lets in (NOT NULL: t, kind, hook, truncated, fields; SQLite
        # stores a NaN as NULL)
        r[column] = draw(values.filter(lambda v: column in NULLABLE or not (
            v[1] is None or (type(v[1]) is float and math.isnan(v[1])))))
    return r


# blocks of rows with consecutive seqs: a connection (c1 mostly; b"c1" a BLOB of its bytes),
# how many rows, and the gap in seqs before the block
blocks = st.sampled_from([0, 60, 8]).flatmap(lambda damage: st.lists(st.tuples(
    st.sampled_from(["c1", "c1", "c1", "c2", b"c1", None]), st.sampled_from([0, 0, 0, 1, 5]),
    st.integers(1, 30).flatmap(lambda n: st.lists(row(damage), min_size=n, max_size=n))),
    min_size=1, max_size=8))


def _call(fast: _rows.Database, *args: Any) -> Any:
    try:
        return fast.stream(*args)
    except _rows.Fallback:
        return "Fallback"


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.too_slow])
@given(blocks, st.integers(0, 200))
def test_runs_read_as_the_index_alone(tmp_path_factory: Any,
                                      spec: list[tuple[Any, int, list[dict[str, Any]]]],
                                      after: int) -> None:
    run, db = blank_capture(tmp_path_factory.mktemp("runs"))
    seq = 0
    for conn, gap, rows in spec:
        seq += gap
        for r in rows:
            seq += 1
            exprs = [r[c][0] for c in COLUMNS]
            db.execute(f"INSERT INTO events(seq, conn, {', '.join(COLUMNS)}) "
                       f"VALUES(?, ?, {', '.join(exprs)})",
                       [seq, conn, *(r[c][1] for c in COLUMNS)])
    db.commit()
    db.close()
    fast = _rows.Database(read_uri(run.capture_db))
    try:
        assert list(fast.rows("PRAGMA encoding", ())) == [("UTF-8",)]
        for conn in ("c1", "c2", "c3"):
            for start in (0, after):
                args = (_STREAM_SQL, (start, conn), _STREAM_TYPES)
                alone = _call(fast, *args)
                assert _same_all(_call(fast, *args, _RUN_SQL), alone), (conn, start)
                assert _same_all(_call(fast, *args, None), alone)
    finally:
        fast.close()


def test_no_runs_in_a_database_not_utf8(tmp_path: Path) -> None:
    """Runs compare a connection id's UTF-8 bytes, which is SQL's comparison only in a UTF-8
    database: in a UTF-16 one (the recorder never writes one) the index reads every row,
    the same rows as the events."""
    _blank, db = blank_capture(tmp_path / "blank")
    schema = [sql for (sql,) in db.execute("SELECT sql FROM sqlite_master WHERE sql NOT NULL")]
    meta = db.execute("SELECT key, value FROM meta").fetchall()
    db.close()
    path = tmp_path / "utf16" / "capture.sqlite"
    path.parent.mkdir()
    db = sqlite3.connect(path)
    db.execute("PRAGMA encoding = 'UTF-16le'")
    for sql in schema:
        db.execute(sql)
    db.executemany("INSERT INTO meta VALUES(?, ?)", meta)
    db.executemany("INSERT INTO events(seq, t, kind, conn, direction, hook, data) "
                   "VALUES(?, 1.5, 'stream', 'c1', 'out', 'h', x'61')",
                   [(i,) for i in range(1, 30)])
    db.commit()
    db.close()
    with CaptureReader(path) as r:
        assert r._fast is not None
        assert r._run is None
        rows = r.stream_rows("c1")
        assert rows == StreamRows.of_events(r.events(conn="c1"))
        assert rows.out.seqs == list(range(1, 30))

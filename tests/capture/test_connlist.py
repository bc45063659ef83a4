"""CaptureReader.conn_ids, which seeks through ``events_conn`` (``connlist.BY_SEEK``), against
the list's definition (``connlist.BY_GROUP`` through the sqlite3 module): on generated captures
(conns NULL, empty, UDP, as text and as BLOB, numbers, text that is not UTF-8; kinds of every
sort, some not text; rows inserted in any order, so connections' first seqs interleave) the
same list in the same order, or the same error, through the C reader and through the module
alone; and a capture whose events table or index is not the writer's is read by the
definition. count() and connections(), read through the C reader too, as through the module."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture import connlist
from harness.capture.capturedb import CaptureReader
from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from tests.capture.blank import blank_capture

# (SQL expression, parameter) of a conn or kind; CAST(? AS TEXT) of bytes is a text that need
# not be UTF-8 (a damaged or foreign file)
CONNS = [("?", None), ("?", ""), ("?", "a"), ("?", "ab"), ("?", "b"), ("?", "1:udp:7"),
         ("?", "1:tls:2"), ("?", "é"), ("?", b"a"), ("?", b""), ("?", 5), ("?", 5.0),
         ("CAST(? AS TEXT)", b"\xff")]
KINDS = [("?", "stream"), ("?", "conn"), ("?", "http"), ("?", b"stream"), ("?", 4),
         ("?", "Stream")]
rows = st.lists(st.tuples(st.integers(1, 90), st.integers(0, len(CONNS) - 1),
                          st.integers(0, len(KINDS) - 1)),
                max_size=40, unique_by=lambda r: r[0])


def _capture(tmp: Path, spec: list[tuple[int, int, int]]) -> RunDir:
    run, db = blank_capture(tmp)
    for seq, c, k in spec:
        (ce, cv), (ke, kv) = CONNS[c], KINDS[k]
        db.execute(f"INSERT INTO events(seq, t, kind, conn, hook) VALUES(?, 1.0, {ke}, {ce}, 'h')",
                   (seq, kv, cv))
    db.commit()
    db.close()
    return run


def _defined(run: RunDir, kind: str) -> list[tuple[Any, int]] | str:
    db = sqlite3.connect(f"file:{run.capture_db}?mode=ro", uri=True)
    try:
        return [(c, int(f)) for c, f in db.execute(connlist.BY_GROUP, (kind,)).fetchall()]
    except sqlite3.DatabaseError as exc:
        return f"cannot read the capture database: {exc}"
    finally:
        db.close()


@contextlib.contextmanager
def _reader(run: RunDir, fast: bool) -> Iterator[CaptureReader]:
    """A reader of the run's capture through the C reader (``fast``), or through the sqlite3
    module alone, as a checkout without ``_rows`` reads it."""
    with CaptureReader(run.capture_db) as r:
        assert r._fast is not None  # built
        if not fast:
            r._fast.close()
            r._fast = None
        yield r


def _read(run: RunDir, kind: str) -> list[tuple[Any, int]] | str:
    """conn_ids through the C reader (a text that is not UTF-8 falls back to the module),
    the same as through the sqlite3 module alone (a checkout without ``_rows``)."""
    got: list[list[tuple[Any, int]] | str] = []
    for fast in (True, False):
        with _reader(run, fast) as r:
            try:
                got.append(r.conn_ids(kind))
            except RunDirError as exc:
                got.append(str(exc).removeprefix(f"{run.capture_db}: "))
            assert r._seekable is True  # the writer's capture: read by seeking
    assert got[0] == got[1]
    return got[0]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=rows)
def test_conn_ids_is_its_definition(tmp_path_factory: Any, spec: list[tuple[int, int, int]]
                                    ) -> None:
    run = _capture(tmp_path_factory.mktemp("c"), spec)
    for kind in ("stream", "conn", "http", "nothing"):
        assert _read(run, kind) == _defined(run, kind), kind


def test_interleaved_connections_in_order_of_their_first_row(tmp_path: Path) -> None:
    # b's first stream row comes before a's, a's first row of any kind before b's; NULL and
    # "" are connections of their own; a conn with no stream rows is not one
    spec = [(1, 2, 1), (2, 0, 2), (3, 4, 0), (4, 2, 0), (5, 1, 0), (6, 0, 0), (7, 4, 0),
            (8, 3, 1), (9, 8, 0), (10, 12, 1)]
    run = _capture(tmp_path, spec)
    assert _read(run, "stream") == [("b", 3), ("a", 4), ("", 5), (None, 6), (b"a", 9)]
    assert _read(run, "stream") == _defined(run, "stream")


def test_a_capture_not_as_the_writer_makes_it_is_read_by_the_definition(tmp_path: Path
                                                                       ) -> None:
    run = _capture(tmp_path, [(1, 2, 0), (2, 3, 0), (3, 2, 0)])
    # the index on other columns, then none
    for change in (["DROP INDEX events_conn", "CREATE INDEX events_conn ON events(conn)"],
                   ["DROP INDEX events_conn"]):
        db = sqlite3.connect(run.capture_db)
        for sql in change:
            db.execute(sql)
        db.commit()
        db.close()
        with CaptureReader(run.capture_db) as r:
            assert r.conn_ids() == [("a", 1), ("ab", 2)]
            assert r._seekable is False


def _counted(run: RunDir, fast: bool) -> tuple[object, ...] | str:
    with _reader(run, fast) as r:
        try:
            return (r.count(), r.count("stream"), r.count("conn"), r.count("nothing"),
                    r.connections())
        except RunDirError as exc:
            return str(exc)


def test_count_and_connections_through_c_as_through_the_module(tmp_path: Path) -> None:
    """count() and connections() read through the C reader (``CaptureReader._all``) as
    through the sqlite3 module: the same numbers and Connections, the same error for a
    text that is not UTF-8 (the C reader gives the query back to the module)."""
    run = _capture(tmp_path, [(1, 2, 0), (2, 3, 1), (3, 2, 0), (4, 0, 0), (5, 10, 4)])
    db = sqlite3.connect(run.capture_db)
    db.execute("INSERT INTO connections(conn, pid, layer, fd, peer_port, first_t) "
               "VALUES('a', 7, 'tls', 3, 443, 1.5), ('ab', 'x', NULL, 2.5, '80', NULL)")
    db.commit()
    got = _counted(run, True)
    assert got == _counted(run, False)
    assert isinstance(got, tuple)
    assert got[:4] == (5, 3, 1, 0)
    assert sorted(got[4]) == ["a", "ab"]  # type: ignore[call-overload]
    db.execute("INSERT INTO connections(conn) VALUES(CAST(? AS TEXT))", (b"\xff",))
    db.commit()
    db.close()
    damaged = _counted(run, True)
    assert damaged == _counted(run, False)
    assert isinstance(damaged, str)
    assert "cannot read the capture database" in damaged

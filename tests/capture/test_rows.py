"""The C reader of capture rows (``harness/capture/_rows.c``) against the sqlite3 module it
stands in for: on generated rows of every SQLite type (integers to 64 bits, floats with
NaN, infinities and -0.0, texts with and without ASCII, texts that are not UTF-8, empty and
long blobs, NULL) it returns the same tuples, or says Fallback exactly before the row the
module cannot read either. Then CaptureReader.events through it against events through
the module alone, on captures with damaged rows of every kind (the same events, the same
skipped rows, the same error where reading stops)."""

from __future__ import annotations

import contextlib
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture import _rows
from harness.capture.capturedb import CaptureReader
from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from tests.capture.blank import blank_capture

# a value as (SQL expression, parameter): CAST(? AS TEXT) of bytes is a text that need not
# be UTF-8, as a damaged or foreign file can hold
values = st.one_of(
    st.tuples(st.just("?"), st.none() | st.booleans().map(int)
              | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=True)
              | st.sampled_from([-0.0, math.inf, -math.inf, 1e308, 5e-324])
              | st.text(max_size=12) | st.text(st.characters(max_codepoint=127), max_size=300)
              | st.sampled_from(["", "a", "ab", "abc", "b", "é", "ab\x00"])  # prefixes
              | st.binary(max_size=12) | st.binary(min_size=3000, max_size=5000)),
    st.tuples(st.just("CAST(? AS TEXT)"),
              st.binary(max_size=8) | st.sampled_from([b"\xff", b"a\xed\xa0\x80", b"\xc3"])),
)


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type (NaN equal to NaN, -0.0 not to 0.0)."""
    if type(a) is not type(b):
        return False
    if type(a) is float:
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a)
                                                        == math.copysign(1, b))
    return bool(a == b)


def _module_rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...]
                 ) -> tuple[list[tuple[Any, ...]], str | None]:
    """The rows the sqlite3 module reads, one at a time, and the error it stops at."""
    out: list[tuple[Any, ...]] = []
    cur = db.execute(sql, args)
    while True:
        try:
            row = cur.fetchone()
        except sqlite3.DatabaseError as exc:
            return out, str(exc)
        if row is None:
            return out, None
        out.append(row)


def _table(path: Path, table: list[list[tuple[str, Any]]]) -> sqlite3.Connection:
    """Table t(id, a, b, c) with a row per entry, each value an SQL expression and its
    parameter (so a row can hold what SQLite makes of a cast as well as a bound value)."""
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a, b, c)")
    for i, row in enumerate(table):
        db.execute(f"INSERT INTO t VALUES({i + 1}, {', '.join(e for e, _v in row)})",
                   [v for _e, v in row])
    db.commit()
    return db


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(values, min_size=3, max_size=3), max_size=12),
       st.integers(-2, 14), st.sampled_from([None, "x", b"\x00"]))
def test_rows_as_the_sqlite3_module_reads_them(tmp_path_factory: Any,
                                               table: list[list[tuple[str, Any]]], after: int,
                                               extra: Any) -> None:
    path = tmp_path_factory.mktemp("rows") / "t.sqlite"
    db = _table(path, table)
    fast = _rows.Database(str(path))
    try:
        for sql, args in (("SELECT id, a, b, c FROM t WHERE id > ? ORDER BY id", (after,)),
                          ("SELECT c, b, NULL, a, id FROM t WHERE id > ? ORDER BY id DESC",
                           (after,)),
                          ("SELECT id, a FROM t WHERE id > ? AND a IS NOT ?", (after, extra))):
            want, error = _module_rows(db, sql, args)
            got: list[tuple[Any, ...]] = []
            fell_back = False
            try:
                for r in fast.rows(sql, args):
                    got.append(r)
            except _rows.Fallback:
                fell_back = True
            if type(extra) is bytes and "IS NOT" in sql:
                assert fell_back
                assert got == []
                continue
            assert len(got) == len(want)  # all the rows, or those before the module's error
            for g, w in zip(got, want, strict=True):
                assert type(g) is tuple
                assert len(g) == len(w)
                assert all(_same(x, y) for x, y in zip(g, w, strict=True)), (g, w)
            # it stops only where the module stops: at a text that is not UTF-8
            assert fell_back == (error is not None)
            if fell_back:
                assert "decode" in str(error)
    finally:
        fast.close()
        db.close()


def test_a_full_statement_cache_makes_room_in_turn(tmp_path: Path) -> None:
    """More statements than the cache holds (8), asked again and again in turns, some held
    open meanwhile (in use, so not the cache's to finalize): each gives its own rows every
    time (a statement finalized while in use, or a slot given to two, would not)."""
    path = tmp_path / "t.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t(a)")
    db.executemany("INSERT INTO t VALUES(?)", [(i,) for i in range(5)])
    db.commit()
    db.close()
    fast = _rows.Database(str(path))
    sql = [f"SELECT a + {k} FROM t WHERE a >= ? ORDER BY a" for k in range(20)]
    held = [fast.rows(sql[k], (1,)) for k in (0, 7, 13)]
    assert [next(it) for it in held] == [(1,), (8,), (14,)]
    for turn in range(3):
        for k in range(20):
            assert list(fast.rows(sql[k], (turn,))) == [(a + k,) for a in range(turn, 5)]
    assert [list(it) for it in held] == [[(2,), (3,), (4,)], [(9,), (10,), (11,)],
                                         [(15,), (16,), (17,)]]
    fast.close()


def test_rows_reuses_a_repeated_text_and_keeps_the_statement(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE t(a, b)")
    db.executemany("INSERT INTO t VALUES(?, ?)", [("same", "é"), ("same", "é"), ("other", "é")])
    db.execute("CREATE TABLE p(a)")  # each text a prefix or an extension of the one before
    db.executemany("INSERT INTO p VALUES(?)", [(x,) for x in ["abc", "ab", "ab", "abcd", "", "a"]])
    db.commit()
    db.close()
    fast = _rows.Database(str(path))
    rows = list(fast.rows("SELECT a, b FROM t", ()))
    assert rows == [("same", "é"), ("same", "é"), ("other", "é")]
    assert rows[0][0] is rows[1][0]
    assert list(fast.rows("SELECT a FROM p", ())) == [("abc",), ("ab",), ("ab",), ("abcd",),
                                                      ("",), ("a",)]
    # an unfinished iterator gives its statement back; the next query starts afresh
    it = fast.rows("SELECT a FROM t", ())
    assert next(it) == ("same",)
    assert list(fast.rows("SELECT a FROM t", ())) == [("same",), ("same",), ("other",)]
    assert list(it) == [("same",), ("other",)]
    del it
    with pytest.raises(_rows.Fallback):
        list(fast.rows("SELECT nothing FROM t", ()))
    fast.close()
    with pytest.raises(_rows.Fallback):
        fast.rows("SELECT a FROM t", ())
    with pytest.raises(_rows.Fallback):
        _rows.Database(str(tmp_path / "none" / "x.sqlite"))


# --- CaptureReader.events through the C reader and through the module alone ----------------

# each column's values, good and damaged ones (as expressions and parameters)
GOOD = {"t": ("?", 1.5), "kind": ("?", "stream"), "pid": ("?", 7), "tid": ("?", 8),
        "conn": ("?", "c1"), "direction": ("?", "out"), "hook": ("?", "native.tls.SSL_write"),
        "data": ("?", b"GET /"), "orig_len": ("?", 5), "truncated": ("?", 0),
        "fields": ("?", '{"layer":"tls"}')}
BAD_TEXT = ("CAST(? AS TEXT)", b"\xffbad")
DAMAGE = {
    "t": [("?", "noon"), ("?", 3), ("?", b"\x01"), ("?", 2**62), BAD_TEXT],
    "kind": [("?", 4), ("?", b"stream"), ("?", "dns"), ("?", "conn"), BAD_TEXT],
    "pid": [("?", None), ("?", "x"), ("?", 1.5), ("?", b"1"), BAD_TEXT],
    "tid": [("?", None), ("?", "y"), ("?", 2.5)],
    "conn": [("?", None), ("?", "c2"), ("?", ""), ("?", 5), ("?", b"c1"), BAD_TEXT],
    "direction": [("?", "in"), ("?", None), ("?", 2), ("?", b"in"), ("?", "sideways"), BAD_TEXT],
    "hook": [("?", "native#3"), ("?", 1), ("?", b"h"), BAD_TEXT],
    "data": [("?", None), ("?", b""), ("?", "text body"), ("?", 12), ("?", 1.5),
             ("?", b"\x00" * 5000), BAD_TEXT],
    "orig_len": [("?", None), ("?", "9"), ("?", 2.5), ("?", 10**6)],
    "truncated": [("?", 1), ("?", "yes"), ("?", ""), ("?", 0.0), ("?", b"")],
    "fields": [("?", "{}"), ("?", '{"s":"\\ud83d"}'), ("?", '{"o":{"k":[1]}}'), ("?", "[1]"),
               ("?", "{bad"), ("?", 3), ("?", '{"peer_host":"a.test","layer":"tls"}'),
               BAD_TEXT],
}
COLUMNS = list(GOOD)
damaged_rows = st.lists(
    st.tuples(st.integers(1, 60),  # seq (rows are inserted in any order)
              st.dictionaries(st.sampled_from(COLUMNS),
                              st.integers(0, 7), max_size=3)),
    min_size=1, max_size=25, unique_by=lambda r: r[0])


def _capture(tmp: Path, spec: list[tuple[int, dict[str, int]]]) -> RunDir:
    run, db = blank_capture(tmp)
    db.execute("INSERT INTO connections(conn, layer, peer_ip, peer_port) "
               "VALUES('c1', 'tls', '10.0.0.1', 443), ('c2', 'tcp', NULL, NULL)")
    for seq, damage in spec:
        cells = []
        for col in COLUMNS:
            options = DAMAGE[col]
            cells.append(options[damage[col] % len(options)] if col in damage else GOOD[col])
        # NULL in a NOT NULL column is not a row a file can hold
        with contextlib.suppress(sqlite3.IntegrityError):
            db.execute(f"INSERT INTO events(seq, {', '.join(COLUMNS)}) VALUES(?, "
                       f"{', '.join(e for e, _v in cells)})", [seq, *(v for _e, v in cells)])
    db.commit()
    db.close()
    return run


def _read(run: RunDir, fast: bool, kwargs: dict[str, Any]
          ) -> tuple[list[tuple[Any, ...]], str | None, dict[str, int]]:
    r = CaptureReader(run.capture_db)
    try:
        assert r._fast is not None, "the C reader did not open"
        if not fast:
            r._fast = None
        out: list[tuple[Any, ...]] = []
        error = None
        try:
            for e in r.events(**kwargs):
                out.append(tuple(e))
        except RunDirError as exc:
            error = str(exc)
        return out, error, dict(r.skipped)
    finally:
        r.close()


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged_rows, st.integers(0, 30))
def test_events_through_c_as_through_the_module(tmp_path_factory: Any,
                                                spec: list[tuple[int, dict[str, int]]],
                                                after: int) -> None:
    run = _capture(tmp_path_factory.mktemp("ev"), spec)
    every, error, _skipped = _read(run, False, {})
    for kwargs in ({}, {"conn": "c1"}, {"conn": "c2"}, {"conn": ""}, {"kinds": ["stream"]},
                   {"kinds": ["dns", "conn"]}, {"after_seq": after},
                   {"conn": "c1", "after_seq": after}):
        fast = _read(run, True, kwargs)
        slow = _read(run, False, kwargs)
        assert fast == slow, kwargs
        if error is None:  # a selection reads as the same events out of all of them
            assert fast[0] == [e for e in every if e[5] == kwargs.get("conn", e[5])
                               and e[2] in kwargs.get("kinds", [e[2]])
                               and e[0] > kwargs.get("after_seq", 0)], kwargs


def test_a_text_that_is_not_utf8_stops_both_at_the_same_row(tmp_path: Path) -> None:
    spec = [(1, {}), (2, {}), (3, {"hook": 3}), (4, {})]
    run = _capture(tmp_path, spec)
    fast = _read(run, True, {"conn": "c1"})
    assert [e[0] for e in fast[0]] == [1, 2]
    assert fast[1] is not None
    assert "decode" in fast[1]
    assert fast == _read(run, False, {"conn": "c1"})
    with CaptureReader(run.capture_db) as r:
        assert r._fast is not None  # the C reader is what read rows 1 and 2

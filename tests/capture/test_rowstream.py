"""Database.stream (``harness/capture/rowstream.c``), a connection's rows with the stream ones
joined per direction, against what it is defined to return of the rows the C reader
(``Database.rows``, itself checked against the sqlite3 module in test_rows.py) reads: on
generated rows of every type, some not of their column's type or not UTF-8."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.capture import _rows
from tests.capture.test_rows import _same, values

_TYPEOF = {"integer": "i", "real": "f", "text": "t", "blob": "b", "null": "n"}
STREAM_COLUMNS = ["seq", "t", "kind", "direction", "data", "orig_len", "truncated", "fields",
                  "x", "y"]
FIXED = "*ftTBI*t"  # what _rows.c asks of the first eight


def _fits(want: str, typeof: str) -> bool:
    return want == "*" or _TYPEOF[typeof] == want.lower() or (typeof == "null"
                                                                and want.isupper())


def _joined(rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    """What ``stream`` is defined to return for rows (as the module reads them) of the types
    it asks: the first stream row and the rows of other kinds whole, each direction's stream
    rows joined (``in``, and every other direction), each fields text once."""
    whole: list[tuple[Any, ...]] = []
    sides: dict[bool, list[tuple[Any, ...]]] = {False: [], True: []}
    for row in rows:
        seq, t, kind, direction, data, orig_len, trunc, _fields = row[:8]
        if kind != "stream" or not (sides[False] or sides[True]):
            whole.append(row)
        if kind == "stream":
            sides[direction == "in"].append((seq, t, data or b"", orig_len, bool(trunc)))
    out = []
    for side in (sides[False], sides[True]):
        starts, at = [], 0
        for r in side:
            starts.append(at)
            at += len(r[2])
        missing = [max(0, (o or 0) - len(d)) if tr else 0 for _s, _t, d, o, tr in side]
        out.append((b"".join(r[2] for r in side), starts, [r[0] for r in side],
                    [r[1] for r in side], missing if any(missing) else None))
    return whole, out[0], out[1], {r[7] for r in rows}


def _same_all(a: Any, b: Any) -> bool:
    """_same through tuples, lists and sets (of texts: compared as sets)."""
    if type(a) in (tuple, list) and type(a) is type(b):
        return len(a) == len(b) and all(_same_all(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) if type(a) is set else _same(a, b)


def _stream_row(damage: int) -> st.SearchStrategy[list[tuple[str, Any]]]:
    """A row whose each value is of its column's type, but for one in ``damage`` (none when
    0) that can be any value (of any type, or a text that is not UTF-8)."""

    def column(good: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, Any]]:
        ok = st.tuples(st.just("?"), good)
        return ok if not damage else st.integers(1, damage).flatmap(
            lambda k: values if k == 1 else ok)

    return st.tuples(
        column(st.floats(allow_nan=False)),  # t
        column(st.sampled_from(["stream"] * 4 + ["conn", "dns", "é"])),  # kind
        column(st.sampled_from(["in", "out", None, "sideways", "é", ""])),  # direction
        column(st.none() | st.binary(max_size=20)
               | st.just(bytes(range(256)) * 200)),  # data (past the first buffer)
        column(st.none() | st.integers(0, 40) | st.integers(-(2**63), 2**63 - 1)),  # orig_len
        column(st.sampled_from([0, 1, 2, None, 0.0, 0.5, "", "y", b"", b"\x00"])),  # truncated
        column(st.sampled_from(["{}", '{"layer":"tls"}', '{"h":"é"}', "{" + "x" * 300 + "}"])),
        column(st.none() | st.integers(0, 9)), column(st.text(max_size=4)),  # x, y
    ).map(list)
@settings(max_examples=150, deadline=None)
@given(st.sampled_from([0, 0, 40, 8]).flatmap(lambda d: st.lists(_stream_row(d), max_size=12)),
       st.data())
def test_stream_as_the_rows_read_them(tmp_path_factory: Any,
                                      table: list[list[tuple[str, Any]]],
                                      data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("stream") / "t.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE t({', '.join(STREAM_COLUMNS)})")
    for i, row in enumerate(table):
        # seq as the capture has it (an integer) or, now and then, of another type
        seq = data.draw(st.sampled_from([("?", i + 1)] * 6 + [("?", i + 0.5), ("?", f"s{i}")]))
        db.execute(f"INSERT INTO t VALUES({', '.join(e for e, _v in [seq, *row])})",
                   [v for _e, v in [seq, *row]])
    db.commit()
    # what the call asks of x and y: every letter in both cases, and one that is none
    extra = data.draw(st.sampled_from(["**", "IT", "It", "iT", "Fb", "fB", "Tq"]))
    types = FIXED + extra
    cols = ", ".join(STREAM_COLUMNS)
    # the first row with a value not of its column's type
    misfit = next((i for i, r in enumerate(db.execute(
        f"SELECT {', '.join(f'typeof({c})' for c in STREAM_COLUMNS)} FROM t ORDER BY rowid"))
        if not all(_fits(w, t) for w, t in zip(types, r, strict=True))), None)
    db.close()
    fast = _rows.Database(str(path))
    try:
        sql = f"SELECT {cols} FROM t WHERE rowid > ? ORDER BY rowid"
        want: list[tuple[Any, ...]] = []
        error = False
        try:
            want.extend(fast.rows(sql, (0,)))
        except _rows.Fallback:  # at the first text that is not UTF-8
            error = True
        try:
            got = fast.stream(sql, (0,), extra)
        except _rows.Fallback:
            assert error
            assert misfit is None or misfit > len(want)
            return
        if misfit is not None and (not error or misfit <= len(want)):
            assert got is None  # a row's types are looked at before any of its values
            return
        assert not error
        assert got is not None
        assert _same_all(got, _joined(want)), (got, _joined(want))
    finally:
        fast.close()


@pytest.mark.parametrize("at", range(18))
def test_stream_stops_at_a_text_not_utf8_wherever_its_bad_byte_is(tmp_path: Path,
                                                                   at: int) -> None:
    """A stream row after the first is read in place, its texts only checked for ASCII
    (rowstream.c, eight bytes at a time): a byte that is not UTF-8 anywhere in one stops it
    where the module stops."""
    path = tmp_path / "t.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE t({', '.join(STREAM_COLUMNS)})")
    bad = b"h" * at + b"\xff" + b"k" * (17 - at)
    for column in ("y", "direction"):
        db.execute("DELETE FROM t")
        db.executemany("INSERT INTO t VALUES(?, 1.5, 'stream', ?, x'61', NULL, 0, '{}', 1, ?)",
                       [(1, "out", "hook"), (2, "out", "hook")])
        db.execute(f"UPDATE t SET {column} = CAST(? AS TEXT) WHERE seq = 2", (bad,))
        db.commit()
        fast = _rows.Database(str(path))
        sql = f"SELECT {', '.join(STREAM_COLUMNS)} FROM t WHERE seq > ? ORDER BY seq"
        try:
            with pytest.raises(_rows.Fallback):
                list(fast.rows(sql, (0,)))
            with pytest.raises(_rows.Fallback):
                fast.stream(sql, (0,), "IT")
        finally:
            fast.close()
    db.close()


def test_stream_refuses_a_wrong_call(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE t({', '.join(STREAM_COLUMNS)})")
    db.executemany("INSERT INTO t VALUES(?, 1.5, ?, ?, ?, NULL, 0, '{}', 1, NULL)",
                   [(1, "stream", "out", b"ab"), (2, "conn", None, None),
                    (3, "stream", "in", b"c"), (4, "stream", "out", b"")])
    db.commit()
    db.close()
    fast = _rows.Database(str(path))
    sql = f"SELECT {', '.join(STREAM_COLUMNS)} FROM t"
    got = fast.stream(sql, (), "IT")
    assert got is not None
    whole, out, inward, texts = got
    assert [r[0] for r in whole] == [1, 2]
    assert out == (b"ab", [0, 2], [1, 4], [1.5, 1.5], None)
    assert inward == (b"c", [0], [3], [1.5], None)
    assert texts == {"{}"}
    assert fast.stream(sql, (), "It") is None  # NULL where t wants TEXT
    with pytest.raises(ValueError, match="one type per column"):
        fast.stream(sql, (), "I")
    with pytest.raises(ValueError, match="one type per column"):
        fast.stream("SELECT seq FROM t", (), "")
    with pytest.raises(_rows.Fallback):
        fast.stream("SELECT nothing FROM t", (), "")
    with pytest.raises(_rows.Fallback):
        fast.stream("SELECT x FROM t WHERE x = ?", (1.5,), "")
    assert list(fast.rows("SELECT seq FROM t", ())) == [(1,), (2,), (3,), (4,)]
    fast.close()
    with pytest.raises(_rows.Fallback):
        fast.stream(sql, (), "IT")



def test_stream_past_the_first_room(tmp_path: Path) -> None:
    """A side of more rows than its arrays' first room (64, doubled as they fill), a row
    losing bytes only after that: every row's start, seq, time and loss where it belongs."""
    path = tmp_path / "t.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"CREATE TABLE t({', '.join(STREAM_COLUMNS)})")
    db.executemany("INSERT INTO t VALUES(?, ?, 'stream', ?, ?, ?, ?, '{}', 1, 'h')",
                   [(i, 1000 + i / 8, "in" if i % 3 else "out", bytes([i % 256]) * (i % 7),
                     i % 7 + (i == 250), int(i == 250)) for i in range(1, 400)])
    db.commit()
    db.close()
    fast = _rows.Database(str(path))
    try:
        sql = f"SELECT {', '.join(STREAM_COLUMNS)} FROM t WHERE seq > ? ORDER BY seq"
        got = fast.stream(sql, (0,), "IT")
        assert got is not None
        assert _same_all(got, _joined(list(fast.rows(sql, (0,)))))
        missing = got[2][4]
        assert missing is not None
        assert missing.count(1) == 1  # seq 250's lost byte
    finally:
        fast.close()

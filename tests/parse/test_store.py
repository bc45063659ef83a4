"""The message store's writer against its references: the JSON columns it encodes with one
kept C encoder (store._Dumps) are the text ``json`` itself would write, for any value, and
a value ``json`` refuses is refused the same way without spoiling the next one."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.parse import store

scalars = (st.none() | st.booleans() | st.integers(-10**30, 10**30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20)
           | st.sampled_from(["", "é", "\ud800", "\x00\x1f\"\\", "😀", "\u2028"]))
keys = st.text(max_size=8) | st.integers(-5, 5) | st.booleans() | st.none() | st.floats()
trees = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.lists(inner, max_size=4).map(tuple)
                     | st.dictionaries(keys, inner, max_size=4), max_leaves=20)
# what the writer hands it: header pairs, event seqs, frames, meta, notes
columns = (st.lists(st.tuples(st.text(max_size=10), st.text(max_size=10)), max_size=5)
           | st.lists(st.integers(0, 2**63), max_size=6).map(tuple)
           | st.dictionaries(st.text(max_size=8), trees, max_size=4)
           | st.lists(st.text(max_size=30), max_size=3) | trees)


def _reference(value: object) -> str:
    return store._ENCODER.encode(value)


@given(columns)
@example([])
@example(())
@example({})
@example([("a", "b")])
@example((1, 2, 3))
@example({"stream": 1, "trailers": [["grpc-status", "0"]], "reason": "OK"})
@example([math.inf, -math.inf, math.nan, 1e300, -0.0, 1 / 3])
@example({1: "int key", False: "bool key", None: "none", 2.5: "float"})
def test_same_text_as_json(value: Any) -> None:
    assert store._Dumps()(value) == _reference(value)


@given(st.lists(columns, max_size=6))
def test_one_encoder_for_many_values(values: list[Any]) -> None:
    dumps = store._Dumps()
    assert [dumps(v) for v in values] == [_reference(v) for v in values]


class _Opaque:
    pass


@pytest.mark.parametrize("bad", [
    [1, _Opaque()], {"a": [_Opaque()]}, ({"k": {b"bytes": 1}},), [b"bytes"],
    {"nested": [[[{1j: 2}]]]}, {(1, 2): "tuple key"},
])
def test_refuses_what_json_refuses_and_recovers(bad: object) -> None:
    dumps = store._Dumps()
    with pytest.raises(TypeError) as ref:
        _reference(bad)
    with pytest.raises(TypeError) as got:
        dumps(bad)
    assert str(got.value) == str(ref.value)
    # the containers the failed call was inside encode again (not "circular")
    box: list[object] = [bad, [bad]]
    with pytest.raises(TypeError):
        dumps(box)
    box[:] = [1, [2]]
    assert dumps(box) == "[1,[2]]"


def test_circular_value_refused_the_same_way() -> None:
    loop: list[object] = [1]
    loop.append({"again": loop})
    with pytest.raises(ValueError, match="Circular reference detected"):
        _reference(loop)
    dumps = store._Dumps()
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps(loop)
    assert dumps([1, [2]]) == "[1,[2]]"


def test_not_a_container_goes_to_json() -> None:
    dumps = store._Dumps()
    for v in ("text", 5, 1.5, None, True, "é"):
        assert dumps(v) == json.dumps(v, separators=(",", ":"))


def test_none_still_binds_null_and_values_round_trip() -> None:
    """store registers an adapter for None (process-wide): NULL it stays, in any database."""
    import sqlite3

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t(a, b INTEGER, c TEXT NOT NULL DEFAULT 'x', d BLOB)")
    db.executemany("INSERT INTO t(a, b, d) VALUES(?, ?, ?)",
                   [(None, None, None), (1, None, b"\0"), (None, 2, b"")])
    assert db.execute("SELECT typeof(a), typeof(b), typeof(d), a IS NULL FROM t").fetchall() \
        == [("null", "null", "null", 1), ("integer", "null", "blob", 0),
            ("null", "integer", "blob", 1)]
    assert db.execute("SELECT ? IS NULL, ?", (None, None)).fetchone() == (1, None)
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("INSERT INTO t(c) VALUES(?)", (None,))

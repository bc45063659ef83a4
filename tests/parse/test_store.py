"""The message store's writer against its references: the JSON columns it encodes with one
kept C encoder (rowcodec.Dumps) are the text ``json`` itself would write, for any value, and
a value ``json`` refuses is refused the same way without spoiling the next one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.parse import rowcodec, store, storeformat, storeread

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
    return rowcodec.ENCODER.encode(value)


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
    assert rowcodec.Dumps()(value) == _reference(value)


@given(st.lists(st.integers(-2**70, 2**70) | st.booleans() | st.floats() | st.none(),
                max_size=3).map(tuple) | columns)
@example((1,))
@example((7, 2**63))
@example((True,))
@example((1, False))
@example((1.0, 2))
@example([5])
def test_seqs_same_text_as_json(value: Any) -> None:
    assert rowcodec.Dumps().seqs(value) == _reference(value)


@given(st.lists(columns, max_size=6))
def test_one_encoder_for_many_values(values: list[Any]) -> None:
    dumps = rowcodec.Dumps()
    assert [dumps(v) for v in values] == [_reference(v) for v in values]


class _Opaque:
    pass


@pytest.mark.parametrize("bad", [
    [1, _Opaque()], {"a": [_Opaque()]}, ({"k": {b"bytes": 1}},), [b"bytes"],
    {"nested": [[[{1j: 2}]]]}, {(1, 2): "tuple key"},
])
def test_refuses_what_json_refuses_and_recovers(bad: object) -> None:
    dumps = rowcodec.Dumps()
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
    dumps = rowcodec.Dumps()
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps(loop)
    assert dumps([1, [2]]) == "[1,[2]]"


def test_not_a_container_goes_to_json() -> None:
    dumps = rowcodec.Dumps()
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


# --- StoreWriter.message: the row as the store will read it back -------------------------

_text = st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
_odd = (st.integers(-2**63, 2**63 - 1) | st.booleans() | st.binary(max_size=4)
        | st.floats(allow_nan=False) | st.just(-0.0) | st.just(0.0))
"""Values a column's affinity converts (an int or a float in a TEXT column, a bool port,
bytes in a text column), or that a REAL keeps as an integer (0.0, -0.0)."""


@st.composite
def _drafts(draw: st.DrawFn) -> Any:
    from harness.parse.draft import Draft
    from harness.parse.message import MessageKind

    def col(base: st.SearchStrategy[Any]) -> Any:
        return draw(base | _odd) if draw(st.integers(0, 9)) == 0 else draw(base)

    kind = draw(st.sampled_from(list(MessageKind)))
    d = Draft(kind=kind, t=col(st.floats(-1e12, 1e12, allow_nan=False)),
              direction=col(st.sampled_from(["out", "in"])), source=col(st.text(max_size=8)),
              first_seq=draw(st.integers(0, 30)))
    for name in ("conn", "phase", "protocol", "host", "ip", "sni", "tls_version", "cipher",
                 "method", "url", "sdk"):
        setattr(d, name, col(_text))
    for name in ("port", "status", "body_len_wire"):
        setattr(d, name, col(st.none() | st.integers(0, 70000)))
    d.headers = draw(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=3))
    d.body = draw(st.binary(max_size=20) | st.binary(max_size=5).map(bytearray))
    d.events = tuple(draw(st.lists(st.integers(0, 2**40), max_size=3)))
    d.frames = tuple(draw(st.lists(st.text(max_size=8), max_size=2)))
    d.meta = draw(st.dictionaries(st.text(max_size=5), scalars | st.lists(scalars, max_size=2),
                                  max_size=2))
    d.notes = draw(st.lists(st.text(max_size=10), max_size=2))
    return d


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_drafts(), min_size=1, max_size=6), st.data(), st.booleans())
def test_message_is_what_the_store_reads_back(tmp_path_factory: pytest.TempPathFactory,
                                              drafts: list[Any], data: st.DataObject,
                                              compiled: bool) -> None:
    """For any draft (regular, or with values SQLite converts), ``message()`` after ``add``
    is the message the store reads back, ids apart (key ids until numbered), from either
    writer."""
    from dataclasses import replace

    path = tmp_path_factory.mktemp("w") / store.ANALYSIS_DB
    w = store.StoreWriter(path, compiled=compiled)
    got = []
    for i, d in enumerate(drafts):
        earlier = drafts[:i]
        d.request = data.draw(st.sampled_from(earlier)) if earlier and i % 2 else None
        w.add(d)
        got.append(w.message())
    pairs = [(1, 2)] if len(drafts) > 1 else []
    for a, b in pairs:
        w.link(a, b)
    n_of = w.finish({}, numbers=True)
    assert n_of is not None
    with storeread.MessageStore(path) as s:
        want = {m.id: m for m in s.messages()}
    for key, m in enumerate(got, 1):
        assert m.id == f"k{key}"
        r = want[f"m{n_of[key]}"]
        request = None if m.request_id is None else f"m{n_of[int(m.request_id[1:])]}"
        assert replace(m, id=r.id, request_id=request, links=r.links) == r
        assert repr(m.t) == repr(r.t)  # 0.0 and -0.0 are equal, but not in findings.json


def test_message_reads_back_what_sqlite_converts(tmp_path: Path) -> None:
    """The values the fast path must not take as they are: each read back instead."""
    from harness.parse.draft import Draft
    from harness.parse.message import MessageKind

    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB)
    assert w._c is not None  # the C writer: its own checks send these to read back too
    calls: list[int] = []
    read_back = w._read_back
    w._read_back = lambda key: calls.append(key) or read_back(key)  # type: ignore[method-assign]
    odd = [{"t": -0.0}, {"t": 5}, {"host": 7}, {"port": True}, {"status": "200"},
           {"body": bytearray(b"x")}, {"url": 1.5}, {"sni": b"b"}]
    for i, change in enumerate([{}, *odd]):
        d = Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=i)
        for k, v in change.items():
            setattr(d, k, v)
        w.add(d)
        m = w.message()
        assert (m.t, m.host, m.port, m.status, m.body, m.url, m.sni) == (
            0.0 if d.t == 0 else float(d.t), None if d.host is None else str(d.host),
            None if d.port is None else int(d.port), None if d.status is None else 200,
            bytes(d.body), None if d.url is None else "1.5", d.sni)
    assert calls == list(range(2, len(odd) + 2))
    w.close()


@pytest.mark.parametrize("compiled", [True, False])
def test_without_body_each_message_has_its_bodys_length(tmp_path: Path,
                                                         compiled: bool) -> None:
    """``messages(with_body=False)`` gives each body's ``len`` in meta (an int), the store
    having no column of it: a BLOB's length as SQLite reads it from the record (an
    overflowing one too), a str body's taken in Python (SQLite's length stops at a NUL,
    counts what the str counts otherwise); a body without a length is refused by both
    writers, as when they wrote its length."""
    from harness.parse.draft import Draft
    from harness.parse.message import MessageKind

    bodies: list[Any] = [b"", b"abc", b"\x00" * 70000, bytearray(b"xy\x00z"), "a\x00\xe9\U0001f600",
                         "", "\x00"]
    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB, compiled=compiled)
    for i, body in enumerate(bodies):
        d = Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=i,
                  meta={"k": i})
        d.body = body
        w.add(d)
    with pytest.raises(TypeError):
        w.add(Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=9,
                    body=5))  # type: ignore[arg-type]
    w.finish({})
    with storeread.MessageStore(tmp_path / store.ANALYSIS_DB) as s:
        light = list(s.messages(with_body=False))
        full = list(s.messages())
    assert [(m.body, m.meta) for m in light] == [
        (b"", {"k": i, "body_len": len(b)}) for i, b in enumerate(bodies)]
    assert all(type(m.meta["body_len"]) is int for m in light)
    assert [m.body for m in full] == [bytes(b) if isinstance(b, bytearray) else b
                                      for b in bodies]


def test_decoded_puts_each_column_in_its_field() -> None:
    """rowcodec.decoded builds a Message positionally: every column lands in its own field."""
    from dataclasses import fields

    from harness.parse.message import Message

    names = [f.name for f in fields(Message)]
    values: dict[str, Any] = {n: f"<{n}>" for n in names}
    values.update(kind="page", headers='[["h","v"]]', events="[1]", frames='["f"]',
                  meta='{"k":1}', notes='["n"]', links=("m9",))
    m = rowcodec.decoded(values["id"], *(values[n] for n in names[1:]), True)
    assert [getattr(m, n) for n in names] == [
        "<id>", "page", *(f"<{n}>" for n in names[2:17]), (("h", "v"),), "<body>",
        "<body_len_wire>", (1,), "<request_id>", ("m9",), "<sdk>", ("f",), {"k": 1}, ("n",)]


def test_new_message_is_message() -> None:
    """rowcodec.new_message (slots set straight) makes what Message(...) makes, for every
    field, and the result is still frozen."""
    import dataclasses

    from harness.parse.message import Message

    names = [f.name for f in dataclasses.fields(Message)]
    assert rowcodec.new_message is not Message
    for i in range(3):
        values = [object() if i else f"<{n}>" for n in names]
        made, ref = rowcodec.new_message(*values), Message(*values)
        assert type(made) is Message
        assert [getattr(made, n) for n in names] == [getattr(ref, n) for n in names]
        assert made == ref
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        rowcodec.new_message(*names[1:])



def _numbering(db: Any) -> list[int]:
    """The keys in number order, as a store's ``numbering`` holds them: its one row, the
    JSON array json.dumps writes (compact), read back."""
    import json

    (text,), = db.execute("SELECT keys FROM numbering").fetchall()
    keys: list[int] = json.loads(text)
    assert text == json.dumps(keys, separators=(",", ":"))
    return keys


_first_seqs = st.integers(0, 6) | st.integers(-2**63, 2**63 - 1) | st.sampled_from(
    [True, False, 2.0, 2.5, -0.0, "3", "x", b"\x01"])
"""Mostly ints, repeated; now and then what SQLite stores converted or orders its own way."""


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_first_seqs, min_size=1, max_size=8), st.booleans())
@example([3, 1, 3, 0, 1], True)
@example([2, True, 1], False)
def test_numbered_as_sql_numbers_them(tmp_path_factory: pytest.TempPathFactory,
                                      firsts: list[Any], compiled: bool) -> None:
    """``finish`` sorts the keys itself when every ``first_seq`` is an int: ``numbering``
    and the numbers it returns are what SQL's numbering (``storeformat._NUMBER``, the reference)
    makes of the rows written, whichever way it took."""
    import sqlite3

    from harness.parse.draft import Draft
    from harness.parse.message import MessageKind

    path = tmp_path_factory.mktemp("w") / store.ANALYSIS_DB
    w = store.StoreWriter(path, compiled=compiled)
    for seq in firsts:
        w.add(Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=seq))
    n_of = w.finish({}, numbers=True)
    db = sqlite3.connect(path)
    keys = _numbering(db)
    assert keys == [k for k, in db.execute(storeformat._NUMBER)]
    assert n_of == [0] + [n for _k, n in sorted((k, n) for n, k in enumerate(keys, 1))]
    db.close()


def _nearly_sorted(seqs: list[int], swaps: list[tuple[int, int]]) -> list[int]:
    out = sorted(seqs)
    for i, j in swaps:
        if i < len(out) and j < len(out):
            out[i], out[j] = out[j], out[i]
    return out


_many_firsts = (st.lists(st.integers(0, 400), min_size=60, max_size=300)
                | st.builds(_nearly_sorted, st.lists(st.integers(0, 400), min_size=60,
                                                     max_size=300),
                            st.lists(st.tuples(st.integers(0, 299), st.integers(0, 299)),
                                     max_size=20))
                | st.lists(st.integers(0, 3), min_size=60, max_size=300).map(
                    lambda xs: sorted(xs, reverse=True)))
"""Many keys: in order but for a few (as the builder adds them), in any order, or backwards
(past what the C writer's insertion sort takes on, so sorted by qsort), with first_seqs
repeated (their keys in order)."""


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(_many_firsts, st.booleans())
@example(list(range(300, 0, -1)), True)
def test_many_numbered_as_sql_numbers_them(tmp_path_factory: pytest.TempPathFactory,
                                           firsts: list[int], numbers: bool) -> None:
    """The C writer's numbering of many keys (sorted by insertion or by qsort) is SQL's,
    and so are the numbers it returns."""
    import sqlite3

    from harness.parse.draft import Draft
    from harness.parse.message import MessageKind

    path = tmp_path_factory.mktemp("w") / store.ANALYSIS_DB
    w = store.StoreWriter(path)
    for seq in firsts:
        w.add(Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=seq))
    n_of = w.finish({}, numbers=numbers)
    db = sqlite3.connect(path)
    keys = _numbering(db)
    assert keys == [k for k, in db.execute(storeformat._NUMBER)]
    assert n_of == ([0] + [n for _k, n in sorted((k, n) for n, k in enumerate(keys, 1))]
                    if numbers else None)
    db.close()

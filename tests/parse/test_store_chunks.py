"""The store's chunks (format 7: several messages a row) read back as they were written,
however the numbering's order goes through them: across chunks of a few messages (more
than the reader keeps decoded), rows of their own among them (values SQLite converts), by
kind, one by one and without bodies."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.parse import store, storeread
from harness.parse.draft import Draft
from harness.parse.message import Message, MessageKind
from tests.parse.test_store import _drafts


def _written(path: Path, drafts: list[Any], rows: int, compiled: bool,
             data: st.DataObject) -> list[Message]:
    """The messages as ``message()`` made them, numbered as the store numbers them."""
    w = store.StoreWriter(path, compiled=compiled, rows=rows)
    got = []
    for i, d in enumerate(drafts):
        d.request = data.draw(st.sampled_from(drafts[:i])) if i and i % 2 else None
        w.add(d)
        got.append(w.message())
    if len(drafts) > 2:
        w.link(1, 3)
    n_of = w.finish({}, numbers=True)
    assert n_of is not None
    out = []
    for key, m in enumerate(got, 1):
        links = () if len(drafts) <= 2 or key not in (1, 3) else (f"m{n_of[4 - key]}",)
        out.append(dataclasses.replace(
            m, id=f"m{n_of[key]}", links=links,
            request_id=None if m.request_id is None else f"m{n_of[int(m.request_id[1:])]}"))
    return sorted(out, key=lambda m: int(m.id[1:]))


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_drafts(), min_size=1, max_size=14), st.integers(1, 3), st.booleans(),
       st.sets(st.sampled_from(list(MessageKind))), st.data())
def test_chunks_read_as_written(tmp_path_factory: pytest.TempPathFactory, drafts: list[Any],
                                rows: int, compiled: bool, kinds: set[MessageKind],
                                data: st.DataObject) -> None:
    path = tmp_path_factory.mktemp("w") / store.ANALYSIS_DB
    want = _written(path, drafts, rows, compiled, data)
    with storeread.MessageStore(path) as s:
        got = list(s.messages())
        assert [repr(m) for m in got] == [repr(m) for m in want]
        assert list(s.messages(kinds=kinds)) == [m for m in want if m.kind in kinds]
        light = list(s.messages(with_body=False))
        assert light == [dataclasses.replace(m, body=b"", meta={**m.meta,
                                                               "body_len": len(m.body)})
                         for m in want]
        for m in reversed(want):  # from the last chunk back: each decoded again or kept
            assert repr(s.get(m.id)) == repr(m)
        assert s.count() == len(want)
        for k in MessageKind:
            assert s.count(k) == sum(m.kind is k for m in want)
        with pytest.raises(KeyError):
            s.get(f"m{len(want) + 1}")


def test_chunks_hold_few_messages_each_and_odd_ones_apart(tmp_path: Path) -> None:
    """A chunk ends at its limit, and a message whose values SQLite converts (a bool
    port: a facts value; an int host) is a row of its own between two chunks."""
    path = tmp_path / store.ANALYSIS_DB
    with store.StoreWriter(path, rows=2) as w:
        for i, change in enumerate([{}, {}, {}, {"host": 7}, {}, {}]):
            d = Draft(kind=MessageKind.RAW, t=1.0 + i, direction="out", source="s",
                      first_seq=10 - i, body=b"x" * i)
            for k, v in change.items():
                setattr(d, k, v)
            w.add(d)
        w.finish({})
    db = sqlite3.connect(path)
    try:
        chunks = db.execute("SELECT key, json_array_length(rows), length(bodies)"
                            " FROM chunks ORDER BY key").fetchall()
        alone = db.execute("SELECT key, host FROM messages").fetchall()
    finally:
        db.close()
    assert chunks == [(1, 2, 1), (3, 1, 2), (5, 2, 9)]
    assert alone == [(4, "7")]
    with storeread.MessageStore(path) as s:
        assert [(m.host, m.body) for m in s.messages()] == [
            (None, b"xxxxx"), (None, b"xxxx"), ("7", b"xxx"), (None, b"xx"), (None, b"x"),
            (None, b"")]


@pytest.mark.parametrize("compiled", [True, False])
def test_a_chunk_ends_at_its_bodies_bytes(tmp_path: Path, compiled: bool) -> None:
    """A chunk is written once its bodies reach storeformat.CHUNK_BYTES, the limit both
    writers are given by it: three of its bodies of 0.4 of it, then four small ones."""
    path = tmp_path / store.ANALYSIS_DB
    big = int(store.CHUNK_BYTES * 0.4)
    with store.StoreWriter(path, compiled=compiled) as w:
        for i, n in enumerate([big, big, big, 5, 5, 5, 5]):
            w.add(Draft(kind=MessageKind.RAW, t=1.0 + i, direction="out", source="s",
                        first_seq=i, body=bytes([i]) * n))
        w.finish({})
    db = sqlite3.connect(path)
    try:
        chunks = db.execute("SELECT key, length(ts) / 8, length(bodies) FROM chunks"
                            " ORDER BY key").fetchall()
    finally:
        db.close()
    assert chunks == [(1, 3, 3 * big), (4, 4, 20)]
    with storeread.MessageStore(path) as s:
        assert [m.body for m in s.messages()] == [bytes([i]) * n for i, n in
                                                  enumerate([big, big, big, 5, 5, 5, 5])]


@pytest.mark.parametrize("compiled", [True, False])
def test_json_sqlite_refuses_in_a_chunk(tmp_path: Path, compiled: bool) -> None:
    """A chunk may hold json's Infinity (a meta's: the reference writer chunks it, the C
    writer gives it a row), which SQLite's JSON functions refuse: the numbering by SQL (a
    first_seq that is not an int) and count(kind) read the chunks otherwise."""
    path = tmp_path / store.ANALYSIS_DB
    with store.StoreWriter(path, compiled=compiled) as w:
        w.add(Draft(kind=MessageKind.RAW, t=0.0, direction="out", source="s",
                    first_seq=False))  # type: ignore[arg-type]
        w.add(Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=0,
                    meta={"f": float("inf")}))
        assert w.finish({}, numbers=True) == [0, 1, 2]  # False is 0 to SQLite: by key
    with storeread.MessageStore(path) as s:
        assert [m.meta for m in s.messages()] == [{}, {"f": float("inf")}]
        assert s.count(MessageKind.RAW) == 2

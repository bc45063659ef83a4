"""The C store writer (``_store.c``) against the Python one (``compiled=False``, the
reference): the same analysis.sqlite, row for row and column for column (bench/storediff.py's
rows, with each value's type), and the same Message from ``message()`` after every ``add``,
for generated drafts, the odd ones included (surrogates, controls, non-ASCII, huge ints,
-0.0, NaN, values of the wrong type). Where the reference raises, so does the C writer (the
reference raises when it writes its queued rows, the C one at the ``add``; either way the
build fails)."""

from __future__ import annotations

import copy
import dataclasses
import gc
import math
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bench.storediff import meta as store_meta
from bench.storediff import rows as store_rows
from harness.errors import RunDirError
from harness.parse import store
from harness.parse.draft import Draft
from harness.parse.message import Message, MessageKind
from harness.parse.rowcodec import KINDS, VALUES, Dumps
from harness.parse.storeread import MessageStore

pytestmark = pytest.mark.skipif(store._store is None, reason="unreachable: setup builds it")

_chars = st.characters() | st.sampled_from(
    ["\ud800", "\udfff", "\ud83d", "\ude00", "\x00", "\x1f", "\x7f", "\"", "\\", "\b", "\f",
     "\n", "\r", "\t", "é", "\u2028", "\U0001f600", "\uffff"])
_text = st.text(_chars, max_size=6)
_clean = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
_ints = st.integers(0, 70000) | st.integers(-2**63, 2**63 - 1) | st.sampled_from(
    [2**63, -2**63 - 1, 2**70, -1])
_floats = st.floats() | st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, 1e16])
_wrong = st.none() | st.booleans() | _ints | _floats | st.binary(max_size=3) | _text
"""What a column can get that is not its type."""
_scalar = st.none() | st.booleans() | _ints | _floats | _text
_json = st.recursive(_scalar, lambda inner: st.lists(inner, max_size=2)
                     | st.dictionaries(_text, inner, max_size=2), max_leaves=4)


def _sometimes(draw: st.DrawFn, usual: st.SearchStrategy[Any],
               odd: st.SearchStrategy[Any] = _wrong) -> Any:
    return draw(odd) if draw(st.integers(0, 29)) == 0 else draw(usual)


@st.composite
def _drafts(draw: st.DrawFn) -> Draft:
    kind = draw(st.sampled_from(list(MessageKind)))
    d = Draft(kind=MessageKind(kind) if draw(st.booleans()) else kind,
              t=_sometimes(draw, st.floats(-1e12, 1e12, allow_nan=False)),
              direction=_sometimes(draw, st.sampled_from(["out", "in"])),
              source=_sometimes(draw, _clean),
              first_seq=_sometimes(draw, st.integers(0, 30)))
    if draw(st.integers(0, 20)) == 0:
        d.kind = draw(st.sampled_from(["raw", "nope"]))  # type: ignore[assignment]
    for name in ("conn", "phase", "protocol", "host", "ip", "sni", "tls_version", "cipher",
                 "method", "url", "sdk"):
        setattr(d, name, _sometimes(draw, st.none() | _clean))
    for name in ("port", "status", "body_len_wire"):
        setattr(d, name, _sometimes(draw, st.none() | st.integers(0, 70000)))
    pair = st.tuples(_text, _text) | st.lists(_text, max_size=3).map(tuple) \
        | st.lists(_text, max_size=3)
    d.headers = _sometimes(draw, st.lists(st.tuples(_text, _text), max_size=3),
                           st.lists(pair | _json, max_size=3) | _json)
    d.body = _sometimes(draw, st.binary(max_size=20),
                        st.binary(max_size=5).map(bytearray) | _wrong)
    d.events = _sometimes(draw, st.lists(st.integers(0, 2**40), max_size=3).map(tuple),
                          st.lists(_ints | st.booleans(), max_size=3) | _json)
    d.frames = _sometimes(draw, st.lists(_text, max_size=2).map(tuple), _json)
    flat = st.dictionaries(_text, _scalar, max_size=3)
    d.meta = _sometimes(draw, flat, _json | st.dictionaries(
        st.none() | st.booleans() | _ints | _floats, _scalar, max_size=2))
    d.notes = _sometimes(draw, st.lists(_text, max_size=2), _json)
    return d


def _build(path: Path, drafts: list[Draft], requests: list[int], compiled: bool,
           after: list[int], one_call: bool = False, rows: int = store.CHUNK_MESSAGES,
           ) -> tuple[list[str], list[int] | None] | type[BaseException]:
    """The messages (their reprs: types show) and the numbering, or the error raised; each
    made by ``add_message`` with ``one_call``, else by ``add`` and ``message``; the C writer
    binding ``rows`` rows into an INSERT."""
    drafts = copy.deepcopy(drafts)
    path.parent.mkdir()
    try:
        with store.StoreWriter(path, compiled=compiled, rows=rows) as w:
            got = []
            for d, r in zip(drafts, requests, strict=True):
                d.request = drafts[r] if r >= 0 else None
                if one_call:
                    m = w.add_message(d)
                else:
                    w.add(d)
                    m = w.message()
                got.append(m)
                # the message is the store's, not the draft's: changing the draft later
                # (its mutable lists and dict) leaves it as it was
                for i in after:
                    if i == 0 and isinstance(d.meta, dict):
                        d.meta["later"] = 1
                    elif i == 1 and isinstance(d.headers, list):
                        d.headers.append(("later", "x"))
                    elif i == 2 and isinstance(d.notes, list):
                        d.notes.append("later")
            if len(drafts) > 1:
                w.link(1, len(drafts))
            n_of = w.finish({"k": "v"}, numbers=True)
    except Exception as exc:  # noqa: BLE001 - compared: both raise or neither
        return type(exc)
    assert not path.with_name(f"{path.name}.{os.getpid()}.tmp").exists()
    return [repr(m) for m in got], n_of


def _plain(**change: Any) -> Draft:
    d = Draft(kind=MessageKind.REQUEST, t=1.5, direction="out", source="native.tls",
              first_seq=3, conn="c1", host="h", port=443, method="GET", url="/",
              headers=[("Host", "h"), ("X", "é\x00\"\\\U0001f600")], body=b"b",
              events=(3, 4), frames=("f",), meta={"stream": 1, "reason": "OK", "r": 0.5,
                                                  "n": None, "b": True},
              notes=["n"])
    for k, v in change.items():
        setattr(d, k, v)
    return d


@pytest.mark.parametrize("change", [
    {}, {"headers": [["k", "v"]]}, {"headers": [("k", "v", "w")]}, {"events": [1, 2, 3]},
    {"events": (2**64,)}, {"meta": {"a": [1]}}, {"meta": {1: "x"}}, {"meta": {"a": 2**64}},
    {"meta": {"f": math.inf}}, {"notes": ("a",)}, {"frames": ["a"]}, {"t": -0.0}, {"t": 2},
    {"host": 5}, {"port": True}, {"body": bytearray(b"x")}, {"notes": ["\ud800"]},
    {"notes": ["\ud83d\ude00"]}, {"meta": {"k": "\ud83d\ude00"}}, {"meta": {"f": -0.0}}])
def test_edge_drafts(tmp_path: Path, change: dict[str, Any]) -> None:
    """Each shape the C writer takes itself, and each it hands to json or reads back."""
    ref = _build(tmp_path / "py" / store.ANALYSIS_DB, [_plain(**change)], [-1], False, [])
    got = _build(tmp_path / "c" / store.ANALYSIS_DB, [_plain(**change)], [-1], True, [])
    assert not isinstance(got, type)
    assert got == ref
    a, b = (str(tmp_path / x / store.ANALYSIS_DB) for x in ("py", "c"))
    assert list(store_rows(b)) == list(store_rows(a))


_rows = st.integers(1, 3)
"""Rows an INSERT of the C writer: few, so that a handful of drafts fills some and leaves
one part full (written one by one)."""


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_drafts(), min_size=1, max_size=6), st.data(),
       st.lists(st.integers(0, 2), max_size=3), _rows)
@example([Draft(kind=MessageKind.RAW, t=1.0, direction="out", source="s", first_seq=0,
                headers=[("\ud83d", "\ude00")])], None, [], store.CHUNK_MESSAGES)
def test_same_store_and_messages(tmp_path_factory: pytest.TempPathFactory,
                                 drafts: list[Draft], data: st.DataObject | None,
                                 after: list[int], rows: int) -> None:
    requests = [data.draw(st.integers(-1, i - 1)) if data is not None and i else -1
                for i in range(len(drafts))]
    files = _same_as_reference(tmp_path_factory.mktemp("w"), drafts, requests, after,
                               rows=rows)
    if files is not None:
        a, b = files
        assert store_meta(b) == store_meta(a)


def _same_as_reference(d: Path, drafts: list[Draft], requests: list[int], after: list[int],
                       one_call: bool = False, rows: int = store.CHUNK_MESSAGES,
                       ) -> tuple[str, str] | None:
    """Both writers on the same drafts end the same way: the same exception type, or the
    same Messages and rows. The two files (reference, C) when they wrote."""
    ref = _build(d / "py" / store.ANALYSIS_DB, drafts, requests, False, after, one_call=one_call)
    got = _build(d / "c" / store.ANALYSIS_DB, drafts, requests, True, after, one_call=one_call,
                 rows=rows)
    assert ref is not RunDirError
    event("raises" if isinstance(ref, type) else "writes")
    if isinstance(ref, type) or isinstance(got, type):
        assert isinstance(ref, type), got
        assert isinstance(got, type), ref
        return None
    assert got == ref
    a, b = (str(d / x / store.ANALYSIS_DB) for x in ("py", "c"))
    assert list(store_rows(b)) == list(store_rows(a))
    return a, b


def _fresh(text: str) -> str:
    """An equal str that is another object (the C writer's facts row keeps its binding for
    both: sql_same_binding)."""
    return "".join(list(text)) if len(text) > 1 else text


_edges = st.sampled_from(["\"", "\\", "\x7f", "\x1f", "\x00", " ", "~", "\n"])
_long = st.text(st.characters(max_codepoint=127) | _edges, min_size=7, max_size=40) \
    | st.text(_chars, min_size=7, max_size=40)
"""Past 8 characters: put_str copies an ASCII str 8 bytes at a time where none of them
needs an escape."""


_pooled = st.sampled_from([[("ab", "c")], [("ba", "c")], [("ab", "c")], [("abc", "d")]]).map(
    lambda h: [(_fresh(k), v) for k, v in h])
"""JSON texts of another row's bytes, or of the same length and other bytes: each
message's own in its chunk."""


@st.composite
def _runs(draw: st.DrawFn) -> list[Draft]:
    """Drafts in a row whose columns take their values from small pools: the previous row's
    own object, an equal one, an unequal one of the same length or of another kind, None,
    the wrong type (a value whose bind fails ends the build, in both writers)."""
    texts = st.sampled_from(["c1", "c2", "é1", "è1", "😀1", "", "abcdefgh"])
    text = texts.map(_fresh) | texts | st.none() | st.sampled_from([5, b"x", True])
    number = st.sampled_from([443, 444, -1, 0, 2**40, None, True]) \
        | st.sampled_from([443, 2**40]).map(lambda n: int(str(n)))
    if draw(st.integers(0, 9)) == 0:  # a run that fails at its first such value
        number = number | st.sampled_from([2**70, 1.5])
    out = []
    for _ in range(draw(st.integers(2, 8))):
        d = Draft(kind=draw(st.sampled_from([MessageKind.REQUEST, MessageKind.RESPONSE])),
                  t=draw(st.sampled_from([1.5, 2.0])), direction=draw(texts),
                  source=draw(texts), first_seq=draw(st.integers(0, 3)))
        for name in ("conn", "phase", "protocol", "host", "ip", "sni", "tls_version",
                     "cipher", "method", "url", "sdk"):
            setattr(d, name, draw(text))
        for name in ("port", "status", "body_len_wire"):
            setattr(d, name, draw(number))
        d.headers = draw(st.lists(st.tuples(_long | _text, _long), max_size=3) | _pooled)
        d.notes = draw(st.lists(_long, max_size=2) | _pooled.map(lambda h: [h[0][0]]))
        d.body = draw(st.sampled_from([b"", b"b", b"bb"]))
        out.append(d)
    return out


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_runs(), st.data(), _rows)
def test_runs_of_like_values(tmp_path_factory: pytest.TempPathFactory,
                             drafts: list[Draft], data: st.DataObject, rows: int) -> None:
    """Messages whose values are the message before's (the same objects or equal ones),
    of other kinds, or fail to bind: the C writer's facts rows keep their bindings where
    the values are the same, its chunks hold each message's own values and JSON texts,
    and the store and Messages are the reference's, through add_message; long strings too
    (encoded 8 bytes at a time)."""
    requests = [data.draw(st.integers(-1, i - 1)) if i else -1 for i in range(len(drafts))]
    _same_as_reference(tmp_path_factory.mktemp("w"), drafts, requests, [], one_call=True,
                       rows=rows)


@pytest.mark.parametrize("rows", [1, 2, store.CHUNK_MESSAGES])
def test_bindings_after_a_row_that_failed(tmp_path: Path, rows: int) -> None:
    """A row whose bind fails part way leaves the parameters it reached rebound and the
    rest as they were: the rows after it store their own values (each row read back
    from the file is its Message as made from the draft)."""
    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB, rows=rows)
    big = 2**70
    rows = [_plain(), _plain(host=_fresh("other"), port=444), _plain(port=big, host="x"),
            _plain(port=big), _plain(host="x", conn="c2"), _plain(),
            _plain(sni="s", port=int("444"))]
    keys = []
    for d in rows:
        try:
            m = w.add_message(d)
        except OverflowError:
            assert d.port is big  # each time: a value that failed to bind is not kept
            continue
        keys.append(d.key)
        assert repr(w._read_back(d.key)) == repr(m)
    assert len(keys) == 5
    w.close()


_KEYS = ("SELECT key, facts FROM messages UNION ALL SELECT c.key + j.key,"
         " json_extract(j.value, '$[3]') FROM chunks c, json_each(c.rows) j")
"""Every message's key and facts id, in a chunk or a row of its own."""


@pytest.mark.parametrize("column", ["first_seq", "t", "direction", "source"])
def test_row_sqlite_refuses_fails_at_its_add(tmp_path: Path, column: str) -> None:
    """A row with NULL in a NOT NULL column is written alone, after the chunk waiting:
    SQLite's error comes at its own add (not at a later row's), the messages before it are
    in the file, and the messages after it are written as before."""
    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB, rows=4)  # the third of four
    assert w._c is not None
    w.add(_plain())
    w.add(_plain(host="h2"))
    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        w.add(_plain(**{column: None}))
    assert w._c.fetch(f"SELECT key FROM ({_KEYS}) ORDER BY key") == [(1,), (2,)]
    later = [_plain(port=p) for p in range(5)]
    for d in later:
        w.add(d)
    assert w._c.fetch(f"SELECT key, port FROM ({_KEYS}) JOIN facts ON id = facts"
                      " WHERE key > 3 ORDER BY key") == [
        (d.key, d.port) for d in later]
    w.close()


@pytest.mark.parametrize("rows", [1, 3])
def test_keys_after_a_statement_that_wrote_rows(tmp_path: Path, rows: int) -> None:
    """After a statement of its caller's that writes (here a row of a larger key), the
    messages keep the keys add gave them (the chunk waiting written first)."""
    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB, rows=rows)
    assert w._c is not None
    keys = [w.add(_plain()) for _ in range(2)]
    assert w._c.fetch(f"SELECT count(*) FROM ({_KEYS})") == [(2,)]  # reads only
    keys.append(w.add(_plain()))
    w._c.execute("INSERT INTO messages(key, first_seq, kind, t, direction, facts, headers,"
                 " body, events, frames, meta, notes) VALUES(100, 0, 'raw', 1.0,"
                 " 'out', 0, '[]', x'', '[]', '[]', '{}', '[]')")
    keys += [w.add(_plain(port=p)) for p in range(4)]
    assert keys == [1, 2, 3, 4, 5, 6, 7]
    assert w._c.fetch(f"SELECT key, port FROM ({_KEYS}) LEFT JOIN facts ON id = facts"
                      " ORDER BY key") == [
        (1, 443), (2, 443), (3, 443), (4, 0), (5, 1), (6, 2), (7, 3), (100, None)]
    w.close()


def test_writer_in_a_cycle_is_collected(tmp_path: Path) -> None:
    """A Writer the collector frees (its list of first seqs holding it) closes its statement
    before it lets go of the values the statement binds in place."""
    firsts: list[object] = []
    w = store._store.Writer(tmp_path / "s.sqlite", store._PRAGMAS + store._SCHEMA + "BEGIN;",
                            store._INSERT, store._FACTS, Draft, Message, VALUES, KINDS,
                            Dumps(), firsts)
    w.add_message(_plain(host=_fresh("a host"), notes=["a note"]))
    firsts.append(w)
    del w, firsts
    gc.collect()


@pytest.mark.parametrize("key", [0, 5, -1, True, 3.5, 2**63, "7"])
def test_request_that_is_not_a_draft(tmp_path: Path, key: object) -> None:
    """A request of another type: its key attribute, compared with 0 as Python does (a
    str's comparison raises)."""
    class Request:
        def __init__(self, key: object) -> None:
            self.key = key

    def build(where: str, compiled: bool) -> tuple[list[str], list[int] | None] | type:
        d = _plain()
        d.request = Request(key)  # type: ignore[assignment]
        path = tmp_path / where / store.ANALYSIS_DB
        path.parent.mkdir()
        try:
            with store.StoreWriter(path, compiled=compiled) as w:
                return [repr(w.add_message(d))], w.finish({}, numbers=True)
        except Exception as exc:  # noqa: BLE001 - compared: both raise or neither
            return type(exc)

    assert build("c", True) == build("py", False)


def test_message_made_without_reading_back(tmp_path: Path) -> None:
    """The point of the C writer: a usual draft's Message comes from its values (no read
    back), shares its immutable values and copies its mutable ones."""
    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB)
    w._read_back = lambda key: pytest.fail("read back")  # type: ignore[method-assign]
    d = _plain()
    w.add(d)
    m = w.message()
    assert (m.body, m.host, m.events) == (d.body, d.host, d.events)
    assert m.body is d.body
    assert m.events is d.events
    assert m.meta == d.meta
    assert m.meta is not d.meta
    assert m.headers == tuple(d.headers)
    assert m.notes == ("n",)
    w.close()


@pytest.mark.parametrize("compiled", [True, False])
def test_facts_rows(tmp_path: Path, compiled: bool) -> None:
    """A message's connection facts go in a facts row of their own, a new one only where
    they do not bind what the last row's did (an equal str or int does; True and 1, an int
    and a str do not), and the reader gives each message its own facts back, types and
    all."""
    change: list[dict[str, Any]] = [
        {}, {}, {"conn": _fresh("c1")}, {"port": True}, {"port": 1}, {"port": int("1")},
        {"port": 1, "cipher": "x"}, {"port": 1, "cipher": "x", "ip": 5},
        {"port": 1, "cipher": "x", "ip": 5}, {"sni": "s"}, {"source": "native.tcp"},
        {"ip": 1.0}, {"ip": 1}]
    w = store.StoreWriter(tmp_path / store.ANALYSIS_DB, compiled=compiled)
    got = [w.add_message(_plain(**{"conn": "c1", **c})) for c in change]
    w.finish({})
    db = sqlite3.connect(tmp_path / store.ANALYSIS_DB)
    assert [f for _k, f in db.execute(f"SELECT * FROM ({_KEYS}) ORDER BY key")] == [
        1, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9]
    db.close()
    with MessageStore(tmp_path / store.ANALYSIS_DB) as s:
        read = list(s.messages())
    assert [repr(m) for m in read] == [repr(dataclasses.replace(m, id=f"m{i}"))
                                       for i, m in enumerate(got, 1)]
    # what a rule calling equal values the same would have got wrong: 1.0 and 1 are equal,
    # their texts are not
    assert (read[7].ip, read[3].port, read[4].port, read[11].ip, read[12].ip) == (
        "5", 1, 1, "1.0", "1")

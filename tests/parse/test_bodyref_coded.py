"""Content-decoded bodies stored as references to their bytes as sent (format 7): built from
real run dirs with real gzip, deflate, br and zstd bodies on HTTP/1.1 (identity and chunked)
and HTTP/2, each message reads back exactly as from a store that holds every body as bytes;
what did not decode whole (truncated, cut at the budget, not decodable) stays bytes; both
writers write the same rows, both parsers note the same bodies; and a capture changed since
is the reader's error, never a wrong body."""

from __future__ import annotations

import gzip
import sqlite3
import time
import zlib
from itertools import pairwise
from pathlib import Path
from typing import Any

import brotli
import pytest
import zstandard

from bench import storediff
from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from harness.parse import bodyref, http1, http2, store
from harness.parse.builder import build_messages
from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import Coded, ConnFacts, Flow
from harness.parse.storeread import MessageStore
from tests.parse.test_bodyref import _flow
from tests.parse.test_bodyref_runs import BODY, _bytes_only, _chunked
from tests.parse.test_bodyref_runs import _h2 as _h2_post
from tests.parse.wire import run_from_bytes

GZ = gzip.compress(BODY, mtime=0)
CODINGS = {"gzip": GZ, "x-gzip": GZ, "deflate": zlib.compress(BODY),
           "br": brotli.compress(BODY), "zstd": zstandard.ZstdCompressor().compress(BODY)}
RAW_DEFLATE = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
RAW = RAW_DEFLATE.compress(BODY) + RAW_DEFLATE.flush()
GZ_BR = brotli.compress(GZ)
"""``Content-Encoding: gzip, br``: gzip applied first, so br is undone first."""


def _post(wire: bytes, headers: bytes, length: bool = True) -> bytes:
    head = b"POST /up HTTP/1.1\r\nHost: h.test\r\n" + headers
    if length:
        head += b"Content-Length: %d\r\n" % len(wire)
    return head + b"\r\n" + wire


def _ok(wire: bytes, headers: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(wire) + headers + b"\r\n" + wire


def _ce(name: str) -> bytes:
    return b"Content-Encoding: " + name.encode() + b"\r\n"


def _split(data: bytes, *at: int) -> list[tuple[str, bytes]]:
    return [("out", data[a:b]) for a, b in pairwise([0, *at, len(data)])]


def _h2(codings: str, wire: bytes) -> list[tuple[str, bytes]]:
    """A gzip POST in three DATA frames (two padded) and a response coded ``codings``."""
    return _h2_post(GZ, (100, 200), 150, (("content-encoding", "gzip"),),
                    (("content-encoding", codings),), wire)


CASES: dict[str, tuple[list[tuple[str, bytes]], dict[str, Any], list[tuple[str, str]]]] = {
    **{f"http/1.1 {name}": (_split(_post(wire, _ce(name)), 50, 200), {}, [("out", name)])
       for name, wire in CODINGS.items()},
    "http/1.1 raw deflate": ([("in", _ok(RAW, _ce("deflate")))], {}, [("in", "deflate")]),
    "http/1.1 chunked gzip": ([("out", _post(b"", _ce("gzip") + b"Transfer-Encoding: chunked"
                                              b"\r\n", False)), ("out", _chunked(GZ, 100))],
                              {}, [("out", "gzip")]),
    "http/1.1 gzip transfer coding": ([("out", _post(b"", b"Transfer-Encoding: gzip, chunked"
                                                      b"\r\n", False) + _chunked(GZ, 150))],
                                      {}, [("out", "gzip")]),
    "http/1.1 gzip, br": ([("in", _ok(GZ_BR, _ce("gzip, br")))], {}, [("in", "gzip,br")]),
    "h2 gzip and zstd": (_h2("zstd", CODINGS["zstd"]), {"alpn": "h2"},
                         [("out", "gzip"), ("in", "zstd")]),
    "h2 gzip, br": (_h2("gzip, br", GZ_BR), {"alpn": "h2"}, [("out", "gzip"), ("in", "gzip,br")]),
    "truncated": ([("in", _ok(GZ[:-20], _ce("gzip")))], {}, []),
    "not decodable": ([("in", _ok(b"\x1f\x8b" + BODY[:200], _ce("gzip")))], {}, []),
    "too short as sent": ([("in", _ok(gzip.compress(b"a" * 500), _ce("gzip")))], {}, []),
    "not supported": ([("in", _ok(GZ, _ce("compress")))], {}, []),
}


def _coded(run: RunDir) -> list[tuple[str, str, int]]:
    """Each coded reference's direction, codings and budget, in key order."""
    db = sqlite3.connect(run.file(store.ANALYSIS_DB))
    try:
        rows = [(v[4], v[20]) for v in storediff.stored(db) if v[20] is not None]
    finally:
        db.close()
    return [(d, *c) for d, ref in rows if (c := bodyref.coding(ref)) is not None]


def _build(path: Path, name: str, budget: int, bytes_only: bool,
           monkeypatch: pytest.MonkeyPatch) -> RunDir:
    conn, kw, _want = CASES[name]
    run = run_from_bytes(path, [conn], **kw)
    with monkeypatch.context() as m:
        if bytes_only:
            _bytes_only(m)
        build_messages(run, budget)
    return run


@pytest.mark.parametrize("name", list(CASES))
def test_each_coded_body_reads_back_as_bytes_would(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   name: str) -> None:
    budget = 1 << 20
    run = _build(tmp_path / "refs", name, budget, False, monkeypatch)
    plain = _build(tmp_path / "bytes", name, budget, True, monkeypatch)
    assert storediff.main(str(plain.file(store.ANALYSIS_DB)),
                          str(run.file(store.ANALYSIS_DB))) == 0
    assert _coded(run) == [(d, c, budget) for d, c in CASES[name][2]]
    with MessageStore(run.file(store.ANALYSIS_DB)) as s:
        decoded = [m for m in s.messages() if "content_encoding" in m.meta]
        assert [m.body for m in decoded].count(BODY) == len(CASES[name][2])
        assert [s.get(m.id) for m in decoded] == decoded


def test_a_body_cut_at_the_budget_stays_bytes(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for budget, want in ((len(BODY) - 1, []), (len(BODY) + 1, [("out", "gzip", len(BODY) + 1)])):
        run = _build(tmp_path / str(budget), "http/1.1 gzip", budget, False, monkeypatch)
        assert _coded(run) == want
        with MessageStore(run.file(store.ANALYSIS_DB)) as s:
            (m,) = s.messages()
        assert m.body == BODY[:budget]
        assert bool(m.notes) == (not want)


def test_both_writers_write_the_same_references(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CASES:
        got = []
        for compiled in (True, False):
            with monkeypatch.context() as m:
                if not compiled:
                    m.setattr(store, "_store", None)
                run = _build(tmp_path / f"{compiled}-{len(got)}-{name}", name, 1 << 20, False,
                             monkeypatch)
            got.append(list(storediff.rows(str(run.file(store.ANALYSIS_DB)))))
        assert got[0] == got[1], name


def _noted(flow: Flow, drafts: list[Draft]) -> list[tuple[int, bytes, str, int]]:
    """What a flow's coded notes, by the index of the draft whose body it is."""
    at = {id(d.body): i for i, d in enumerate(drafts)}
    return sorted((at[k], *v[1:]) for k, v in flow.coded.items() if v is not None)


FACTS = ConnFacts(conn="4242:tls:1", source="native.tls", layer="tls")


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("http/1.1")])
def test_the_c_http1_parser_notes_what_its_reference_notes(name: str) -> None:
    data = b"".join(b for _d, b in CASES[name][0])
    got = []
    for compiled in (True, False):
        flow = _flow("out", [data], [1])
        drafts = (http1.parse_requests(flow, 0, FACTS, 1 << 20, compiled).drafts
                  if data.startswith(b"POST") else
                  http1.parse_responses(flow, 0, [], FACTS, 1 << 20, compiled=compiled).drafts)
        got.append(_noted(flow, drafts))
    assert got[0] == got[1]
    assert len(got[0]) == len(CASES[name][2])


@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("h2")])
def test_the_c_http2_reader_notes_what_its_reference_notes(name: str) -> None:
    got = []
    for native in (True, False):
        flows = [_flow(d, [b"".join(b for dd, b in CASES[name][0] if dd == d)], [1])
                 for d in ("out", "in")]
        drafts = http2.parse(*flows, FACTS, 1 << 20, native=native)
        got.append([_noted(f, drafts) for f in flows])
    assert got[0] == got[1]
    assert [len(x) for x in got[0]] == [1, 1]


def _draft(body: bytes) -> Draft:
    return Draft(kind=MessageKind.RESPONSE, t=1.0, direction="out", source="native.tls",
                 first_seq=5, body=body, body_len_wire=0, events=(5,))


def test_only_a_well_formed_note_of_the_body_itself_is_a_coded_reference(
        tmp_path: Path) -> None:
    """Both writers: a note that is not of this body object, or not what keep writes,
    leaves the body to be found as it is (here: not found, bytes)."""
    wire = bytes(range(256)) * 2
    bodies = [bytes([i]) * 300 for i in range(12)]
    notes: list[Coded | object | None] = [
        (bodies[0], wire, "gzip", 1 << 20), (bodies[0], wire, "gzip", 1 << 20), None,
        (bodies[3], wire, "gzîp", 1), (bodies[4], wire, "", 1), (bodies[5], wire, "gzip", -1),
        (bodies[6], wire, "gzip", 2**64), (bodies[7], bytearray(wire), "gzip", 1),
        (bodies[8], wire, "gzip"), [bodies[9], wire, "gzip", 1],
        (bodies[10], wire[::-1], "gzip", 1), (bodies[11], wire, "br", 2**64 - 1)]
    rows = []
    for compiled in (True, False):
        flow = _flow("out", [b"head" + wire + b"tail"], [5])
        flow.coded.update((id(b), n) for b, n in zip(bodies, notes, strict=True))
        flow.coded[id(bodies[1])] = (bodies[0], wire, "gzip", 1)  # another body's note
        path = tmp_path / str(compiled) / store.ANALYSIS_DB
        path.parent.mkdir()
        with store.StoreWriter(path, compiled=compiled) as w:
            w.use_flows({"out": flow})
            for b in bodies:
                w.add(_draft(b))
            w.finish({})
        rows.append(list(storediff.rows(str(path))))
        db = sqlite3.connect(path)
        refs = [v[20] for v in storediff.stored(db)]
        db.close()
    assert rows[0] == rows[1]
    assert [bodyref.coding(r) if r else None for r in refs] == [
        ("gzip", 1 << 20), *[None] * 10, ("br", 2**64 - 1)]
    assert bodyref.spans(refs[0]) == [(5, 4, len(wire))]


def test_keep_notes_a_body_once_and_nothing_short() -> None:
    coded: dict[int, Coded | None] = {}
    body, wire = b"b" * 64, b"w" * 64
    bodyref.keep(coded, body, wire, "gzip", 9)
    assert coded == {id(body): (body, wire, "gzip", 9)}
    bodyref.keep(coded, body, wire, "gzip", 9)
    assert coded == {id(body): None}
    bodyref.keep(coded, b"b" * 63, wire, "gzip", 9)
    bodyref.keep(coded, b"c" * 64, b"w" * 63, "gzip", 9)
    assert len(coded) == 1


def _gzip_run(tmp_path: Path) -> RunDir:
    run = run_from_bytes(tmp_path, [CASES["http/1.1 gzip"][0]])
    build_messages(run)
    assert _coded(run)
    time.sleep(0.05)  # a later write gets a later mtime, whatever the clock's grain
    return run


def _rewrite_wire(run: RunDir) -> None:
    """One byte of the gzip stream as sent changed in the capture, the length kept."""
    db = sqlite3.connect(run.capture_db)
    (seq, data), = db.execute("SELECT seq, data FROM events WHERE instr(data, ?) > 0",
                              (GZ[200:230],)).fetchall()
    at = data.find(GZ[200:230]) + 10
    db.execute("UPDATE events SET data = ? WHERE seq = ?",
               (data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:], seq))
    db.commit()
    db.close()


def test_a_capture_changed_since_is_the_readers_error(tmp_path: Path) -> None:
    run = _gzip_run(tmp_path)
    _rewrite_wire(run)
    with MessageStore(run.file(store.ANALYSIS_DB)) as s, \
            pytest.raises(RunDirError, match="capture changed") as exc:
        list(s.messages())
    assert exc.value.path == str(run.capture_db)


def test_bytes_as_sent_that_no_longer_decode_are_an_error_not_a_body(tmp_path: Path) -> None:
    """Past the stamp (as if the capture's file kept its size and time): the decoding
    itself refuses the changed bytes."""
    run = _gzip_run(tmp_path)
    _rewrite_wire(run)
    path = run.file(store.ANALYSIS_DB)
    db = sqlite3.connect(path)
    (size, ref), = [(v[12], v[20]) for v in storediff.stored(db) if v[20] is not None]
    db.close()
    bodies = bodyref.Bodies(path, bodyref.capture_stamp(run.capture_db))
    try:
        with pytest.raises(RunDirError, match="does not hold a message body"):
            bodies.read([(size, ref)])
    finally:
        bodies.close()



def test_no_reference_names_a_negative_seq(tmp_path: Path) -> None:
    """What tells a coded reference from one to the body itself (its first eight bytes a
    negative number): a body whose first stretch would be of an event of a negative seq
    (seqs out of order, as reassembly never makes them, yet bisect finds the draft's events
    among them) stays bytes, in both writers."""
    seqs = [-3, 4, 0, 3, 3, -1, 2, 5, 2]
    body = bytes(range(60, 180))
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10, b"", b"", body[:40], body[40:90], body[90:],
              b"z" * 10]
    for compiled in (True, False):
        path = tmp_path / str(compiled) / store.ANALYSIS_DB
        path.parent.mkdir()
        with store.StoreWriter(path, compiled=compiled) as w:
            w.use_flows({"out": _flow("out", chunks, seqs)})
            d = _draft(body)
            d.first_seq, d.events = 3, (3, 5)
            w.add(d)
            w.finish({})
        db = sqlite3.connect(path)
        assert [(v[12], v[20]) for v in storediff.stored(db)] == [(body, None)]
        db.close()

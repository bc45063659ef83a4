"""The messages ``harness analyze`` scans as the store is written (``MessageStream``) against
the store read back: once numbered, the same messages field for field (ids, request ids and
links included), the same store rows as ``build_messages`` writes, and the same findings,
notes and destinations as scanning the store's messages the way analyze did before."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.analysis import FINDINGS_JSON, analyze_run, transforms
from harness.capture.rundir import Phase, RunDir
from harness.capture.writer import CaptureWriter, EventRow
from harness.classify.destinations import DESTINATIONS_JSON, Classifier, write_destinations
from harness.detect.finding import Finding, Needle
from harness.detect.findings import find
from harness.detect.needles import merge, run_needles
from harness.device.base import NeedleClass
from harness.parse.builder import RECORD_BATCH, MessageStream, build_messages
from harness.parse.message import Message
from harness.parse.stamps import PhaseClock
from harness.parse.store import ANALYSIS_DB
from harness.parse.storeread import MessageStore
from harness.testing.runbuilder import RunBuilder
from tests.parse import test_records
from tests.parse.wire import run_from_bytes

NEEDLE = "a1b2c3d4e5f60718"
NEEDLES = [Needle("android-id", NeedleClass.DEVICE_ID, NEEDLE, "device"),
           Needle("word", NeedleClass.BROWSING, "canary words", "cli"),
           Needle("sa", NeedleClass.DEVICE_ID, "H4sIAAAA", "cli")]


def store_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: (sorted(db.execute("SELECT * FROM meta")) if t == "meta" else
                    db.execute(f'SELECT * FROM "{t}" ORDER BY rowid').fetchall())
                for t in sorted(names)}
    finally:
        db.close()


def read_back(run: RunDir) -> list[Message]:
    with MessageStore(run.file(ANALYSIS_DB)) as store:
        return list(store.messages())


def check_stream(run: RunDir, copy: Path, record_batch: int = RECORD_BATCH) -> list[Message]:
    """Stream ``run`` (building its store), build a copy with ``build_messages``, compare;
    the messages read back."""
    shutil.copytree(run.path, copy)
    stream = MessageStream(run, record_batch=record_batch)
    got = [m for batch in stream.batches() for m in batch]
    assert stream.done
    assert stream.count == len(got)
    want = read_back(run)
    with run.reader() as reader:  # each stamped with the phase of its time
        clock = PhaseClock(run.load_info().phases, reader.markers())
    assert [m.phase for m in want] == [clock.at(m.t) for m in want]
    # numbered, the stream's messages are the store's, field for field
    final = sorted((stream.final(m) for m in got), key=lambda m: int(m.id[1:]))
    assert final == want
    assert sorted(int(m.id[1:]) for m in got) == list(range(1, len(got) + 1))  # key ids
    by_id = {m.id: m for m in want}
    for m in got:
        r = by_id[stream.final_id(m.id)]
        if m.meta.get("stack"):  # what the detector and the classifier ask of links
            assert sorted(stream.number(i) for i in m.links) == [int(i[1:]) for i in r.links]
        else:
            assert m.links == ()
    # and the store is the one build_messages writes
    assert build_messages(RunDir(copy)) == len(got)
    assert store_rows(run.file(ANALYSIS_DB)) == store_rows(copy / ANALYSIS_DB)
    return want


def analyze_via_store(run: RunDir, extra: Sequence[Needle] = ()) -> tuple[list[Finding],
                                                                         list[str], int]:
    """``analyze_run`` as it was: build the store, read its messages back, scan them."""
    needles = merge(run_needles(run), extra)
    build_messages(run)
    notes: list[str] = []
    classifier = Classifier()

    def fed(messages: Iterator[Message]) -> Iterator[Message]:
        for m in messages:
            classifier.add(m)
            yield m

    with MessageStore(run.file(ANALYSIS_DB)) as store:
        count = store.count()
        findings = find(fed(store.messages()), needles, transforms(run), notes)
    run.write_json(FINDINGS_JSON, [f.to_json() for f in findings])
    write_destinations(run, classifier=classifier)
    return findings, notes, count


def check_analyze(run: RunDir, copy: Path, extra: Sequence[Needle] = NEEDLES) -> None:
    shutil.copytree(run.path, copy)
    a = analyze_run(run, extra)
    findings, notes, count = analyze_via_store(RunDir(copy), extra)
    assert (a.findings, a.notes, a.messages) == (findings, notes, count)
    for name in (FINDINGS_JSON, DESTINATIONS_JSON):
        assert run.file(name).read_bytes() == (copy / name).read_bytes(), name
    assert store_rows(run.file(ANALYSIS_DB)) == store_rows(copy / ANALYSIS_DB)


# --- run dirs -----------------------------------------------------------------------------

def _records(parent: Path) -> RunDir:
    return test_records._run(parent)


def _java_bodies(parent: Path) -> RunDir:
    return test_records.streamed_java_run(parent)


def _journey(parent: Path) -> RunDir:
    b = RunBuilder(parent, "j", run_id="j")
    b.needle("android-id", "device-id", NEEDLE)
    b.phase("normal")
    b.canary()
    b.request("sa.api.lab.test", f"/sa?u={NEEDLE}", body=f"id={NEEDLE}&x=1".encode())
    b.java_request(f"https://sa.api.lab.test/sa?u={NEEDLE}", body=f"id={NEEDLE}&x=1".encode())
    b.sdk_call("sensorsdata", "track", "search", {"id": NEEDLE, "word": "canary words"})
    b.phase("incognito", incognito=True)
    conn = b.request("api.lab.test", "/config", method="GET", response=b"short response")
    b.send(conn, b"GET /again?u=" + NEEDLE.encode() + b" HTTP/1.1\r\nHost: api.lab.test\r\n\r\n")
    b.request("plain.lab.test", "/p", tls=None, body=NEEDLE.encode(), response=None)
    cut = b.connect("cut.lab.test")
    b.send(cut, b"POST /c HTTP/1.1\r\nHost: cut.lab.test\r\nContent-Length: 40\r\n\r\n"
           + NEEDLE.encode() * 3, keep=70)
    b.java_request(f"https://api.lab.test/config?u={NEEDLE}", method="GET")
    b.transform("base64", "", NEEDLE.encode(), b"YTFiMmMzZDRlNWY2MDcxOA==")
    b.request("b.lab.test", "/b64", body=b"v=YTFiMmMzZDRlNWY2MDcxOA==")
    return b.build(analyze=False)


def _wire(parent: Path) -> RunDir:
    h1 = (b"POST /a?id=%s HTTP/1.1\r\nHost: w.test\r\nContent-Length: 5\r\n\r\nhello"
          % NEEDLE.encode())
    resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    return run_from_bytes(parent, [
        [("out", h1), ("in", resp), ("out", h1[:30])],
        [("out", b"\x16\x03\x01garbage" + NEEDLE.encode()), ("in", b"\x00" * 9)],
        [("out", h1), ("out", h1), ("in", resp + resp)],
        [("out", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x04\x08\x00\x00\x00\x00\x00")],
    ], truncate={2: 999})


RUNS = [_records, _java_bodies, _journey, _wire]


@pytest.mark.parametrize("make", RUNS, ids=lambda f: f.__name__)
def test_stream_is_the_store(make: Callable[[Path], RunDir], tmp_path: Path) -> None:
    check_stream(make(tmp_path / "a"), tmp_path / "b")


@pytest.mark.parametrize("make", RUNS, ids=lambda f: f.__name__)
def test_records_in_batches_of_one_and_two(make: Callable[[Path], RunDir],
                                           tmp_path: Path) -> None:
    """The fixtures have fewer records than :data:`RECORD_BATCH`: batches that fill up."""
    for n in (1, 2):
        check_stream(make(tmp_path / f"a{n}"), tmp_path / f"b{n}", record_batch=n)


def test_batches_are_the_messages(tmp_path: Path) -> None:
    """Iterating the stream is reading its batches one after another."""
    run = _records(tmp_path / "a")
    shutil.copytree(run.path, tmp_path / "b")
    batches = [list(b) for b in MessageStream(run, record_batch=2).batches()]
    assert len(batches) > 2
    assert all(batches)
    assert [m for b in batches for m in b] == list(MessageStream(RunDir(tmp_path / "b"),
                                                                 record_batch=2))


@pytest.mark.parametrize("make", RUNS, ids=lambda f: f.__name__)
def test_analyze_is_as_via_the_store(make: Callable[[Path], RunDir], tmp_path: Path) -> None:
    check_analyze(make(tmp_path / "a"), tmp_path / "b")


def test_the_comparison_sees_links_request_ids_and_notes(tmp_path: Path) -> None:
    """The fixtures hold what is known only at the end (links, numbered ids), findings in
    linked messages and notes, so the comparisons above are not vacuous."""
    want = check_stream(_records(tmp_path / "a"), tmp_path / "b")
    assert sum(bool(m.links) for m in want) == 4
    assert any(m.request_id for m in want)
    assert any(m.meta.get("stack") and m.links for m in want)
    run = _journey(tmp_path / "j")
    a = analyze_run(run, NEEDLES)
    assert a.notes
    assert len(a.findings) > 5
    ids = {m.id for m in read_back(run)}
    assert {f.message for f in a.findings} <= ids


# --- generated captures -----------------------------------------------------------------

_chunks = st.sampled_from([
    b"GET /x?id=" + NEEDLE.encode() + b" HTTP/1.1\r\nHost: g.test\r\n\r\n",
    b"POST /p HTTP/1.1\r\nHost: g.test\r\nContent-Length: 4\r\n\r\nabcd",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", NEEDLE.encode(), b"\x00\xff garbage",
]) | st.binary(max_size=40)
_times = st.floats(0, 50) | st.sampled_from([0.0, 20.0])  # and the phases' bounds
_stream = st.tuples(st.integers(1, 4), st.sampled_from(["tls", "tcp", "udp"]),
                    st.sampled_from(["out", "in"]), _chunks, _times)
_java = st.tuples(st.sampled_from(["request", "response", "body"]), st.sampled_from(["c1", "c2"]),
                  st.sampled_from(["POST", "GET"]), st.binary(max_size=12) | _chunks,
                  _times, st.booleans())


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(streams=st.lists(_stream, max_size=12), java=st.lists(_java, max_size=6),
       sdk=st.lists(_times, max_size=2))
@example(streams=[], java=[], sdk=[15.0, 20.0])  # a bound just after a time in the gap before
def test_generated_captures(tmp_path_factory: pytest.TempPathFactory,
                            streams: list[tuple[int, str, str, bytes, float]],
                            java: list[tuple[str, str, str, bytes, float, bool]],
                            sdk: list[float]) -> None:
    """Random stream chunks on a few connections, Java HTTP records (requests, responses and
    body chunks of two calls, with or without a stack) and SDK calls, in random time order:
    the stream equals the store read back, and analyze equals analyze via the store."""
    parent = tmp_path_factory.mktemp("gen")
    run = RunDir.create(parent / "a", "gen")
    info = run.load_info()
    info.phases = [Phase("one", 0.0, 20.0), Phase("two", 20.0, None)]
    run.save_info(info)
    rows: list[EventRow] = []
    conns: dict[str, dict[str, object]] = {}
    for n, layer, direction, data, t in streams:
        conn = f"7:{layer}:{n}"
        conns[conn] = {"conn": conn, "pid": 7, "layer": layer, "peer_ip": f"10.0.0.{n}",
                       "peer_port": 443, "sni": "g.test" if layer == "tls" else None}
        rows.append(EventRow(t=t, kind="stream", hook=f"native.{layer}.x", pid=7, conn=conn,
                             direction=direction, data=data, fields={"layer": layer}))
    for phase, call, method, data, t, stack in java:
        fields: dict[str, object] = {"phase": phase, "call": call, "method": method,
                                     "url": "https://g.test/x?id=" + NEEDLE}
        if stack:
            fields["stack"] = "okhttp3"
        if phase == "response":
            fields["status"] = 200
        rows.append(EventRow(t=t, kind="http", hook="java.okhttp3.RealCall", pid=7,
                             direction="in" if phase == "response" else "out", data=data,
                             fields=fields))  # type: ignore[arg-type]
    for t in sdk:
        rows.append(EventRow(t=t, kind="sdk", hook="java.sensorsdata.track", pid=7,
                             fields={"sdk": "sensorsdata", "method": "track", "event": "e",
                                     "properties": {"id": NEEDLE}}))
    rows.sort(key=lambda r: r.t)
    with CaptureWriter(run.capture_db) as w:
        w.write_batch(7, 0, rows, connections=list(conns.values()))  # type: ignore[arg-type]
    shutil.copytree(run.path, parent / "pristine")
    check_stream(run, parent / "b")
    check_analyze(RunDir(parent / "pristine"), parent / "c")

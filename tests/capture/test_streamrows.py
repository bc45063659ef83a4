"""CaptureReader.stream_rows (a connection's stream events joined per direction by the C
reader's ``stream``) against its definition, ``StreamRows.of_events`` over the events the
sqlite3 module reads: on captures with damaged rows of every kind (values of other types,
fields that are not JSON objects, texts that are not UTF-8, other kinds mixed in) the same
sides, events and skipped rows, or the same error; recorder-written rows are joined by the C
reader, not read as events; and on generated connections (both directions and others, seqs
inserted out of order and with gaps, repeated and overlapping payloads, empty, missing and
truncated data, bodies past the C reader's first buffer, other kinds between) the flows
reassembled from them are those of the reassembly's reference (tests/parse/reassembly_ref.py),
and one reader reading connections one after another (its fields texts read once) gives what
the events give, with each event's fields its own object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture import _rows
from harness.capture.capturedb import CaptureReader
from harness.capture.rundir import RunDir
from harness.capture.streamrows import Side
from harness.errors import RunDirError
from harness.parse.reassembly import assemble_rows
from tests.capture.blank import blank_capture
from tests.capture.test_rows import _capture, damaged_rows
from tests.parse.reassembly_ref import ref_assemble

# the values of test_rows.DAMAGE a recorder writes too (other kinds, directions, empty or missing
# data, truncation, fields objects), by their index there: rows read as columns
RECORDER = {"kind": [2, 3], "direction": [0, 1, 4], "data": [0, 1, 5], "orig_len": [0, 3],
            "truncated": [0, 3], "fields": [0, 2, 6], "pid": [0]}
recorder_rows = st.lists(
    st.tuples(st.integers(1, 60),
              st.dictionaries(st.sampled_from(list(RECORDER)), st.integers(0, 5), max_size=4)
              .map(lambda d: {k: RECORDER[k][i % len(RECORDER[k])] for k, i in d.items()})),
    min_size=1, max_size=25, unique_by=lambda r: r[0])


class _Counting:
    """The C reader, counting what is asked of it."""

    def __init__(self, fast: _rows.Database) -> None:
        self.fast = fast
        self.joined = 0
        self.rows_read = 0

    def stream(self, *args: Any) -> Any:
        got = self.fast.stream(*args)
        self.joined += got is not None
        return got

    def rows(self, *args: Any) -> Any:
        self.rows_read += 1
        return self.fast.rows(*args)

    def close(self) -> None:
        self.fast.close()


def _read(run: RunDir, fast: bool, conn: str) -> tuple[str, str | None, dict[str, int]]:
    r = CaptureReader(run.capture_db)
    try:
        assert r._fast is not None, "the C reader did not open"
        if not fast:
            r._fast = None
        try:
            got, error = repr(r.stream_rows(conn)), None
        except RunDirError as exc:
            got, error = "", str(exc)
        return got, error, dict(r.skipped)
    finally:
        r.close()


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damaged_rows)
def test_stream_rows_as_the_events_read_them(tmp_path_factory: Any,
                                             spec: list[tuple[int, dict[str, int]]]) -> None:
    run = _capture(tmp_path_factory.mktemp("sr"), spec)
    for conn in ("c1", "c2", "", "none"):
        # repr: the same values of the same types (1 is not 1.0 nor True)
        assert _read(run, True, conn) == _read(run, False, conn), conn


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recorder_rows)
def test_recorder_rows_as_columns_as_the_events(tmp_path_factory: Any,
                                                spec: list[tuple[int, dict[str, int]]]) -> None:
    run = _capture(tmp_path_factory.mktemp("rr"), spec)
    with CaptureReader(run.capture_db) as r:
        assert r._fast is not None
        r.connections()  # read once a reader (through rows() too): before the count
        counting = _Counting(r._fast)
        r._fast = counting  # type: ignore[assignment]
        r.stream_rows("c1")
        assert (counting.joined, counting.rows_read) == (1, 0)
    assert _read(run, True, "c1") == _read(run, False, "c1")


def test_recorder_rows_are_read_as_columns(tmp_path: Path) -> None:
    spec = [(1, {}), (2, {"direction": 0}), (3, {"kind": 3}),  # a conn event between
            (4, {"truncated": 0, "orig_len": 3}), (5, {"data": 0}), (6, {"fields": 0})]
    run = _capture(tmp_path, spec)
    with CaptureReader(run.capture_db) as r:
        assert r._fast is not None
        r.connections()  # read once a reader (through rows() too): before the count
        counting = _Counting(r._fast)
        r._fast = counting  # type: ignore[assignment]
        rows = r.stream_rows("c1")
        assert (counting.joined, counting.rows_read) == (1, 0)
        # seq 4 truncated (10**6 bytes long, 5 recorded), 5 without data
        assert rows.out == Side(b"GET /" * 3, [0, 5, 10, 10], [1, 4, 5, 6],
                                [1.5, 1.5, 1.5, 1.5], [0, 10**6 - 5, 0, 0])
        assert rows.inward == Side(b"GET /", [0], [2], [1.5], None)
        assert [e.seq for e in rows.others] == [3]
        assert rows.first is not None
        assert rows.first.fields == {"layer": "tls"}
        assert rows.first.connection is not None
        # a row events() skips (fields not a JSON object): read as events, and counted
        bad = _capture(tmp_path / "bad", [*spec, (7, {"fields": 4})])
    with CaptureReader(bad.capture_db) as r:
        assert r._fast is not None
        r.connections()  # read once a reader (through rows() too): before the count
        counting = _Counting(r._fast)
        r._fast = counting  # type: ignore[assignment]
        assert r.stream_rows("c1").out.seqs == [1, 4, 5, 6]
        assert (counting.joined, counting.rows_read) == (1, 1)
        assert r.skipped == {"events": 1}


# --- generated connections: the flows the C reader's sides make, as the reference's ---------

PAYLOADS = [b"GET / HTTP/1.1\r\n", b"\x00\x00\x04\x08\x00", b"HTTP/1.1 200 OK\r\n\r\n",
            bytes(range(256)) * 200]  # more than the C reader's first buffer in a few rows
# a non-ASCII or long text is not shared with the row before (_rows.c's text_of)
FIELDS = ['{"layer":"tls"}', '{"layer":"tcp","peer_host":"\u00e9.test"}', "{}",
          '{"k":"' + "x" * 300 + '"}']
stream_row = st.fixed_dictionaries({
    "conn": st.sampled_from(["c1", "c1", "c1", "c2"]),
    "kind": st.sampled_from(["stream"] * 6 + ["conn", "dns"]),
    "direction": st.sampled_from(["out", "in", "in", None, "sideways", ""]),
    # a payload sent again (a retransmit as the hook sees it, or overlapping writes), fresh
    # bytes, or none
    "data": st.sampled_from(PAYLOADS) | st.binary(max_size=40) | st.none(),
    "truncated": st.booleans(),
    "orig_len": st.none() | st.integers(0, 60) | st.integers(0, 2**63 - 1),
    "fields": st.sampled_from(FIELDS),
    "hook": st.sampled_from(["native.tls.SSL_read", "native.tls.SSL_write", "java.tls.é"]),
    "pid": st.none() | st.integers(1, 2**40),
})
connections = st.lists(st.tuples(st.integers(1, 10_000), stream_row), min_size=1, max_size=30,
                       unique_by=lambda r: r[0])


def _connections(tmp: Path, spec: list[tuple[int, dict[str, Any]]]) -> RunDir:
    """A capture of the rows, inserted in the order given (seqs any order, with gaps)."""
    run, db = blank_capture(tmp)
    db.execute("INSERT INTO connections(conn, layer, peer_ip, peer_port) "
               "VALUES('c1', 'tls', '10.0.0.1', 443)")
    for seq, r in spec:
        db.execute("INSERT INTO events(seq, t, kind, pid, tid, conn, direction, hook, data, "
                   "orig_len, truncated, fields) VALUES(?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                   (seq, 1000.0 + seq / 7, r["kind"], r["pid"], r["conn"], r["direction"],
                    r["hook"], r["data"], r["orig_len"], int(r["truncated"]), r["fields"]))
    db.commit()
    db.close()
    return run


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.too_slow])
@given(connections)
def test_connections_joined_as_the_reference_reassembles_them(
        tmp_path_factory: Any, spec: list[tuple[int, dict[str, Any]]]) -> None:
    run = _connections(tmp_path_factory.mktemp("cj"), spec)
    for conn in ("c1", "c2"):
        with CaptureReader(run.capture_db) as r:
            assert r._fast is not None
            r.connections()  # read once a reader (through rows() too): before the count
            counting = _Counting(r._fast)
            r._fast = counting  # type: ignore[assignment]
            rows = r.stream_rows(conn)
            assert (counting.joined, counting.rows_read) == (1, 0)
            events = list(r.events(conn=conn))
        assert _read(run, True, conn) == _read(run, False, conn)
        want = ref_assemble(e for e in events if e.kind == "stream")
        assert assemble_rows(rows).keys() == want.keys()
        for d, flow in assemble_rows(rows).items():
            ref = want[d]
            assert (flow.direction, flow.data, flow.lossy) == (ref.direction, ref.data,
                                                               ref.lossy)
            assert [tuple(c) for c in flow.chunks] == [tuple(c) for c in ref.chunks]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.data_too_large, HealthCheck.too_slow])
@given(connections)
def test_connections_read_by_one_reader_as_by_a_reader_each(
        tmp_path_factory: Any, spec: list[tuple[int, dict[str, Any]]]) -> None:
    """A reader reads each fields text once (FieldsOnce): connections it reads one after
    another (one again) are what the events give, and no two events share a fields object."""
    run = _connections(tmp_path_factory.mktemp("or"), spec)
    conns = ("c1", "c2", "c1")
    with CaptureReader(run.capture_db) as r:
        got = [r.stream_rows(conn) for conn in conns]
    for conn, rows in zip(conns, got, strict=True):
        assert (repr(rows), None, {}) == _read(run, False, conn)
    events = [e for rows in got for e in (rows.first, *rows.others) if e is not None]
    assert len({id(e.fields) for e in events}) == len(events)

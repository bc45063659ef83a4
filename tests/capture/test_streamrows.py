"""CaptureReader.stream_rows (a connection's stream events as columns, read through the C
reader's ``columns``) against its definition, ``StreamRows.of_events`` over the events the
sqlite3 module reads: on captures with damaged rows of every kind (values of other types,
fields that are not JSON objects, texts that are not UTF-8, other kinds mixed in) the same
columns, events and skipped rows, or the same error; and recorder-written rows are read as
columns, not as events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture import _rows
from harness.capture.capturedb import CaptureReader
from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from tests.capture.test_rows import _capture, damaged_rows

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
        self.columns_read = 0
        self.rows_read = 0

    def columns(self, *args: Any) -> Any:
        got = self.fast.columns(*args)
        self.columns_read += got is not None
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
        counting = _Counting(r._fast)
        r._fast = counting  # type: ignore[assignment]
        r.stream_rows("c1")
        assert (counting.columns_read, counting.rows_read) == (1, 0)
    assert _read(run, True, "c1") == _read(run, False, "c1")


def test_recorder_rows_are_read_as_columns(tmp_path: Path) -> None:
    spec = [(1, {}), (2, {"direction": 0}), (3, {"kind": 3}),  # a conn event between
            (4, {"truncated": 0, "orig_len": 3}), (5, {"data": 0}), (6, {"fields": 0})]
    run = _capture(tmp_path, spec)
    with CaptureReader(run.capture_db) as r:
        assert r._fast is not None
        counting = _Counting(r._fast)
        r._fast = counting  # type: ignore[assignment]
        rows = r.stream_rows("c1")
        assert (counting.columns_read, counting.rows_read) == (1, 0)
        assert rows.seqs == [1, 2, 4, 5, 6]
        assert rows.directions == ["out", "in", "out", "out", "out"]
        assert rows.truncated == [False, False, True, False, False]
        assert rows.data[3] is None
        assert [e.seq for e in rows.others] == [3]
        assert rows.first is not None
        assert rows.first.fields == {"layer": "tls"}
        assert rows.first.connection is not None
        # a row events() skips (fields not a JSON object): read as events, and counted
        bad = _capture(tmp_path / "bad", [*spec, (7, {"fields": 4})])
    with CaptureReader(bad.capture_db) as r:
        assert r._fast is not None
        counting = _Counting(r._fast)
        r._fast = counting  # type: ignore[assignment]
        assert r.stream_rows("c1").seqs == [1, 2, 4, 5, 6]
        assert (counting.columns_read, counting.rows_read) == (1, 1)
        assert r.skipped == {"events": 1}

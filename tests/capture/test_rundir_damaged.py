"""Damaged run dirs (fuzz round 12): a clear RunDirError naming the file and field, or a
row skipped and counted, never a traceback."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.capture.rundir import CaptureReader, RunDir
from harness.claims.evidence import load_facts
from harness.cli import main
from harness.errors import ExitCode, RunDirError
from harness.testing.runbuilder import RunBuilder, copy_run

DEV = "a1b2c3d4e5f60718"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """An analysed run: two phases, a device id sent to an analytics host."""
    b = RunBuilder(tmp_path_factory.mktemp("damaged"), "j")
    b.needle("android_id", "device-id", DEV)
    for name in ("first", "second"):
        b.phase(name)
        b.request("sa.api.lab.test", "/t?id=" + DEV, body=b'{"distinct_id":"%s"}' % DEV.encode())
    return b.build(analyze=True)


@pytest.fixture
def run(built: RunDir, tmp_path: Path) -> RunDir:
    return copy_run(built, tmp_path / "run")


def _edit_run_json(run: RunDir, **kv: object) -> None:
    info = json.loads(run.run_json.read_text())
    info.update(kv)
    run.run_json.write_text(json.dumps(info))


def _sql(run: RunDir, *stmts: str) -> None:
    db = sqlite3.connect(run.capture_db)
    for stmt in stmts:
        db.execute(stmt)
    db.commit()
    db.close()


@pytest.mark.parametrize("version", [0, -3, "1", 1.0, True, None])
def test_format_version_below_one_or_not_an_int_is_refused(run: RunDir, version: object) -> None:
    _edit_run_json(run, format_version=version)
    with pytest.raises(RunDirError, match=r"format_version") as exc:
        RunDir.open(run.path)
    assert str(run.run_json) in str(exc.value)


@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000,
                                  '{"format_version": 1' + "0" * 5000 + "}"],
                         ids=["too-deep", "5000-digits"])
def test_run_json_too_deep_or_huge_number_is_a_run_dir_error(run: RunDir, text: str) -> None:
    run.run_json.write_text(text)
    with pytest.raises(RunDirError, match=r"cannot read run\.json") as exc:
        RunDir.open(run.path)
    assert str(run.run_json) in str(exc.value)


@pytest.mark.parametrize(("kv", "field"), [
    ({"device": None}, "device"), ({"target": "x"}, "target"), ({"scenario": None}, "scenario"),
    ({"tools": "x"}, "tools"), ({"command": [1]}, "command"), ({"command": "harness"}, "command"),
    ({"run_id": None}, "run_id"), ({"created": "now"}, "created"), ({"status": 3}, "status"),
    ({"started": "x"}, "started"),
    ({"completeness": {"missing": 0, "hosts": {"h": {"received": None}}}},
     "completeness.hosts.h.received"),
    ({"completeness": {"missing": 0, "hosts": []}}, "completeness.hosts"),
    ({"completeness": [1]}, "completeness"),
    ({"phases": [{"name": None, "start": 1.0}]}, "phases[0].name"),
    ({"phases": [{"name": "p", "start": None}]}, "phases[0].start"),
    ({"phases": [{"name": "p", "start": 1.0, "end": "x"}]}, "phases[0].end"),
    ({"phases": [{"name": "p", "start": 1.0, "state": []}]}, "phases[0].state"),
    ({"phases": [{"name": "p", "start": 1.0, "notes": [1]}]}, "phases[0].notes"),
    ({"phases": {"name": "p"}}, "phases"), ({"phases": [1]}, "phases[0]"),
    ({"health": {"bytes_kernel_out": "x"}}, "health.bytes_kernel_out"),
    ({"health": {"batches": None}}, "health.batches"),
    ({"health": {"detached": [1]}}, "health.detached"),
    ({"health": []}, "health"),
])
def test_run_json_fields_of_the_wrong_type_are_named(run: RunDir, kv: dict[str, object],
                                                     field: str) -> None:
    _edit_run_json(run, **kv)
    with pytest.raises(RunDirError) as exc:
        run.load_info()
    assert f"(field {field!r})" in str(exc.value)
    assert str(run.run_json) in str(exc.value)


def test_run_json_wrong_type_through_the_cli_is_one_line_and_exit_2(
        run: RunDir, capsys: pytest.CaptureFixture[str]) -> None:
    _edit_run_json(run, phases=[{"name": "p", "start": None}])
    for cmd in ("report", "analyze", "export"):
        argv = [cmd, str(run.path)] + (["-o", "/dev/null"] if cmd == "export" else [])
        assert main(argv) == ExitCode.BAD_INPUT
        err = capsys.readouterr().err
        assert "phases[0].start" in err
        assert len(err.strip().splitlines()) == 1


def _drop_sidecars(run: RunDir) -> None:
    for side in ("capture.sqlite-wal", "capture.sqlite-shm"):
        (run.path / side).unlink(missing_ok=True)


def _garbage(p: Path) -> None:
    p.write_bytes(b"not sqlite" * 1000)


def _empty(p: Path) -> None:
    p.write_bytes(b"")


def _no_markers(p: Path) -> None:
    db = sqlite3.connect(p)
    db.execute("DROP TABLE markers")
    db.close()


def _no_alpn(p: Path) -> None:
    db = sqlite3.connect(p)
    db.execute("ALTER TABLE connections DROP COLUMN alpn")
    db.close()


@pytest.mark.parametrize(("mutate", "says"), [
    (_garbage, "file is not a database"), (_empty, "no capture tables"),
    (_no_markers, "no table 'markers'"), (_no_alpn, "no column 'alpn' in table 'connections'"),
])
def test_capture_db_damaged_or_missing_a_table_is_a_run_dir_error(
        run: RunDir, mutate: Callable[[Path], None], says: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    _drop_sidecars(run)
    mutate(run.capture_db)
    with pytest.raises(RunDirError, match=says) as exc:
        CaptureReader(run.capture_db)
    assert str(run.capture_db) in str(exc.value)
    for argv in (["analyze", str(run.path)], ["report", str(run.path)],
                 ["export", str(run.path), "-o", "/dev/null"]):
        assert main(argv) == ExitCode.BAD_INPUT
        assert says in capsys.readouterr().err


@pytest.mark.parametrize(("stmt", "table"), [
    ("UPDATE events SET fields='{bad' WHERE kind='stream' AND seq = "
     "(SELECT max(seq) FROM events WHERE kind='stream')", "events"),
    ("UPDATE events SET fields='null' WHERE kind='stream' AND seq = "
     "(SELECT max(seq) FROM events WHERE kind='stream')", "events"),
    ("UPDATE events SET fields='[' || fields || ']' WHERE kind='hook' AND seq = "
     "(SELECT min(seq) FROM events)", "events"),
    ("UPDATE events SET t='x' WHERE seq = (SELECT max(seq) FROM events)", "events"),
    ("UPDATE events SET hook=x'00' WHERE seq = (SELECT max(seq) FROM events)", "events"),
    ("UPDATE markers SET t='x' WHERE id = 1", "markers"),
    ("UPDATE batches SET seq='x' WHERE id = (SELECT max(id) FROM batches)", "batches"),
], ids=["fields-not-json", "fields-null", "fields-a-list", "t-text", "hook-blob",
        "marker-t-text", "batch-seq-text"])
def test_unreadable_capture_rows_are_skipped_counted_and_gate_the_verdicts(
        run: RunDir, stmt: str, table: str, caplog: pytest.LogCaptureFixture) -> None:
    _sql(run, stmt)
    assert main(["analyze", str(run.path)]) == ExitCode.OK
    assert main(["report", str(run.path)]) == ExitCode.OK
    assert main(["export", str(run.path), "-o", "/dev/null"]) == ExitCode.OK
    assert f"capture.sqlite: 1 unreadable row(s) of {table} skipped" in caplog.text
    # a claim cannot PASS over what was skipped: the gate says so
    facts = load_facts(run)
    assert facts.unreadable_rows == 1  # each row once, however often it was read
    assert facts.recorded_protocol_errors == 0
    from harness.claims.model import Claim
    from harness.claims.verdicts import gate_reasons
    claim = Claim("c", "q", {}, (facts.journey,), (), 1)
    assert any("row(s) of capture.sqlite could not be read" in r
               for r in gate_reasons(claim, [facts], []))


def test_text_data_is_read_as_its_bytes_and_bad_marker_detail_as_empty(run: RunDir) -> None:
    _sql(run, "UPDATE events SET data=CAST(data AS TEXT) WHERE kind='stream'",
         "UPDATE markers SET detail='{bad' WHERE id = 1")
    with CaptureReader(run.capture_db) as reader:
        datas = [e.data for e in reader.events(kinds=["stream"])]
        markers = reader.markers()
        assert reader.skipped == {}
    assert datas
    assert all(isinstance(d, bytes) and d for d in datas)
    assert markers[0].detail == {}
    assert len(markers) == 4
    assert main(["analyze", str(run.path)]) == ExitCode.OK
    assert load_facts(run).recorded_protocol_errors == 0
    findings = json.loads(run.file("findings.json").read_text())
    assert len(findings) >= 2


def test_a_row_read_twice_is_counted_once(run: RunDir) -> None:
    # the builder reads a UDP connection's events twice (DNS names, then datagrams): the
    # count the verdicts cite is of rows, not of reads
    _sql(run, "UPDATE events SET t='x' WHERE seq = (SELECT max(seq) FROM events)")
    with CaptureReader(run.capture_db) as reader:
        first = list(reader.events())
        second = list(reader.events())
        assert len(first) == len(second)
        assert reader.skipped == {"events": 1}


def test_a_skipped_rows_count_the_store_cannot_give_is_not_zero(run: RunDir) -> None:
    assert main(["analyze", str(run.path)]) == ExitCode.OK
    assert load_facts(run).unreadable_rows == 0
    db = sqlite3.connect(run.path / "analysis.sqlite")
    db.execute("UPDATE meta SET value='x' WHERE key='skipped_rows'")
    db.commit()
    db.close()
    assert load_facts(run).unreadable_rows >= 1  # unknown: the gate must still say so

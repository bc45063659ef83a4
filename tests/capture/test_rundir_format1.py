"""A run dir of an older format is evidence: every reader reads it as it is, never upgrading
``capture.sqlite`` or ``run.json`` in place, and gives what it gives on an upgraded copy.

Format 1 is built the way the format-1 harness wrote it (no ``batches.agent``, ``meta`` and
``run.json`` saying 1); "the upgraded copy" is what the in-place migration of 2026-12-06 made
of it (``ALTER TABLE ... ADD COLUMN agent ... DEFAULT 0``, format 2 in both places)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from harness.capture.rundir import FORMAT_VERSION, RunDir
from harness.capture.summary import summarize
from harness.capture.writer import CaptureWriter
from harness.claims.evidence import load_facts
from harness.cli import main
from harness.errors import RunDirError
from harness.parse.storeread import MessageStore
from harness.testing.runbuilder import RunBuilder, copy_run

CLAIMS = Path(__file__).parents[2] / "scenarios" / "claims" / "xiaomi-2020.yaml"
SECRET = "qzformat1secretvalue"


def as_format_1(run: RunDir) -> RunDir:
    """Rewrite a fresh run dir as the format-1 harness wrote it."""
    db = sqlite3.connect(run.capture_db)
    with db:
        db.execute("ALTER TABLE batches DROP COLUMN agent")
        db.execute("UPDATE meta SET value='1' WHERE key='format_version'")
    db.close()
    data = json.loads(run.run_json.read_text())
    run.run_json.write_text(json.dumps({**data, "format_version": 1}, indent=2))
    return run


def upgraded(run: RunDir, dest: Path) -> RunDir:
    """A copy of a format-1 run dir as the in-place migration left it (format 2, agent 0)."""
    up = copy_run(run, dest)
    db = sqlite3.connect(up.capture_db)
    with db:
        db.execute("ALTER TABLE batches ADD COLUMN agent INTEGER NOT NULL DEFAULT 0")
        db.execute("INSERT OR REPLACE INTO meta VALUES('format_version', '2')")
    db.close()
    data = json.loads(up.run_json.read_text())
    up.run_json.write_text(json.dumps({**data, "format_version": 2}, indent=2))
    return up


def evidence(run: RunDir) -> dict[str, str]:
    """Each file of the capture itself (not the derived outputs), by its SHA-256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in run.path.iterdir()
            if p.name.startswith("capture.sqlite") or p.name == "run.json"}


@pytest.fixture(scope="module")
def old(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    """A format-1 run: HTTP with a needle in a form, a Java stack call, an app encoder call,
    a canary, and a lost batch (gaps are counted from ``batches``)."""
    b = RunBuilder(tmp_path_factory.mktemp("format1"), "browsing", run_id="old")
    b.phase("browse")
    b.needle("secret", "device-id", SECRET)
    b.canary()
    b.request("sa.api.lab.test", "/sa", body=f"id={SECRET}&x=1".encode())
    b.java_request(f"https://tracker.example.com/t?u={SECRET}")
    b.transform("base64-encode", "Base64", SECRET.encode(), b"cXpmb3JtYXQx")
    b.phase("idle")
    b.request("plain.lab.test", "/p", method="GET", tls=None)
    b.skip_seqs = {2}
    return as_format_1(b.build(analyze=False))


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_readers_leave_a_format_1_capture_as_it_was(old: RunDir, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = copy_run(old, tmp_path / "old")
    before = evidence(run)
    assert set(before) == {"capture.sqlite", "run.json"}
    assert RunDir.open(run.path).load_info().format_version == 1
    assert _cli(capsys, "analyze", str(run.path), "--claims", str(CLAIMS))[0] in (0, 1, 3)
    assert _cli(capsys, "report", str(run.path))[0] == 0
    assert _cli(capsys, "scan", str(run.path), "--needle", f"extra={SECRET[:12]}")[0] == 0
    assert _cli(capsys, "export", str(run.path), "--format", "jsonl")[0] == 0
    assert _cli(capsys, "export", str(run.path), "--format", "har")[0] == 0
    summarize(run)
    load_facts(run)
    assert evidence(run) == before
    assert RunDir.open(run.path).load_info().format_version == 1


def test_a_format_1_run_reads_as_its_upgraded_copy(old: RunDir, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    one = copy_run(old, tmp_path / "one")
    two = upgraded(old, tmp_path / "two")
    out: dict[str, dict[str, object]] = {}
    for name, run in (("one", one), ("two", two)):
        got: dict[str, object] = {}
        p = str(run.path)
        for argv in (["analyze", p, "--claims", str(CLAIMS)], ["report", p],
                     ["scan", p, "--json"], ["export", p, "--format", "jsonl"],
                     ["export", p, "--format", "har"]):
            code, text = _cli(capsys, *argv)
            got[" ".join(argv[:1] + argv[2:])] = (code, text.replace(p, "RUN"))
        for derived in ("findings.json", "destinations.json", "needles.json", "verdicts.json",
                        "summary.json"):
            if run.file(derived).is_file():
                got[derived] = run.file(derived).read_text().replace(p, "RUN")
        with run.reader() as r:
            got["batches"] = r.batches()
            got["events"] = [e._replace(fields=dict(e.fields)) for e in r.events()]
            got["connections"] = r.connections()
            got["markers"] = r.markers()
            got["errors"] = r.protocol_errors()
            got["totals"] = r.stream_totals("out") + r.stream_totals("in")
            got["conn_ids"] = r.conn_ids()
            got["count"] = r.count()
        with MessageStore.open(run) as store:
            got["messages"] = list(store.messages())
        got["summary"] = summarize(run).lines()
        facts = load_facts(run)
        got["facts"] = (facts.recorded_gaps, facts.recorded_protocol_errors,
                        facts.unreadable_rows, facts.hooks, facts.findings, facts.messages)
        out[name] = got
    assert out["one"].keys() == out["two"].keys()
    for key in out["one"]:
        assert out["one"][key] == out["two"][key], key
    assert [b[6] for b in out["one"]["batches"]] == [0] * len(out["one"]["batches"])  # type: ignore[union-attr]


def test_a_format_1_batches_table_reads_agent_0_and_its_gaps(old: RunDir,
                                                             tmp_path: Path) -> None:
    run = copy_run(old, tmp_path / "gaps")
    with RunDir.open(run.path).reader() as r:
        batches = r.batches()
    assert {b[6] for b in batches} == {0}
    assert 2 not in [b[2] for b in batches]
    assert load_facts(run).recorded_gaps == 1


def test_a_format_2_capture_without_agent_is_damaged_not_old(old: RunDir, tmp_path: Path) -> None:
    run = copy_run(old, tmp_path / "odd")
    db = sqlite3.connect(run.capture_db)
    with db:
        db.execute("UPDATE meta SET value=? WHERE key='format_version'", (str(FORMAT_VERSION),))
    db.close()
    with pytest.raises(RunDirError, match=r"no column 'agent' in table 'batches'"):
        run.reader()


def test_the_writer_refuses_to_append_to_a_format_1_capture(old: RunDir, tmp_path: Path) -> None:
    run = copy_run(old, tmp_path / "append")
    before = evidence(run)
    with pytest.raises(RunDirError, match=r"format 1 or older .* never rewrites") as exc:
        CaptureWriter(run.capture_db)
    assert str(run.capture_db) in str(exc.value)
    assert evidence(run) == before


def _cut_short(tmp_path: Path) -> RunDir:
    """A format-1 run dir whose capture was killed mid-way: its last batch (a marker) is
    still in ``capture.sqlite-wal`` (copied while the writer held it; no ``-shm``)."""
    b = RunBuilder(tmp_path, "cut", run_id="cut")
    b.phase("browse")
    b.request("sa.api.lab.test", "/sa", body=b"x=1")
    run = as_format_1(b.build(analyze=False))
    db = sqlite3.connect(run.capture_db)
    db.execute("PRAGMA wal_autocheckpoint=0")
    with db:
        db.execute("INSERT INTO markers(t, kind, name) VALUES(1.0, 'note', 'late')")
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    for p in run.path.iterdir():
        if not p.name.endswith("-shm"):
            shutil.copy(p, crashed / p.name)
    db.close()
    return RunDir(crashed)


def test_a_capture_cut_short_keeps_its_wal_unfolded(tmp_path: Path) -> None:
    """A read-write reader folded the WAL into the file when it closed; the reader reads
    the WAL's batches and leaves both files as they were."""
    crashed = _cut_short(tmp_path).path
    before = evidence(RunDir(crashed))
    assert "capture.sqlite-wal" in before
    with RunDir.open(crashed).reader() as r:
        assert [m.name for m in r.markers("note")] == ["late"]
    after = evidence(RunDir(crashed))
    assert {k: after[k] for k in before} == before


def _unshare_works() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _read_only_harness(run: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``harness ARGV`` in a child that sees ``run`` on a read-only mount (a user and mount
    namespace of its own: file modes alone do not stop root)."""
    script = ('mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && '
              'exec "$@"')
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", str(run), sys.executable, "-m",
         "harness", *argv], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm (user namespaces)")
def test_a_read_only_format_1_run_dir(old: RunDir, tmp_path: Path) -> None:
    """Analysed once where it was writable, a format-1 run dir is then read from a read-only
    mount: scan and export read it (the outputs they need are there and current). analyze
    writes its outputs into the run dir as before, so on a read-only run dir it stops with an
    error naming the file it could not write, not a traceback."""
    run = copy_run(old, tmp_path / "ro")
    assert main(["analyze", str(run.path)]) == 0
    before = evidence(run)
    scan = _read_only_harness(run.path, "scan", str(run.path), "--json")
    assert scan.returncode == 0, scan.stderr
    assert SECRET in scan.stdout
    jsonl = _read_only_harness(run.path, "export", str(run.path), "--format", "jsonl")
    assert jsonl.returncode == 0, jsonl.stderr
    assert len(jsonl.stdout.splitlines()) > 5
    analyze = _read_only_harness(run.path, "analyze", str(run.path))
    assert analyze.returncode == 2, analyze.stderr
    assert "Traceback" not in analyze.stderr
    assert str(run.path / "needles.json") in analyze.stderr
    assert "cannot write needles.json into the run dir (Read-only file system)" in \
        analyze.stderr
    assert evidence(run) == before


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm (user namespaces)")
def test_a_read_only_run_dir_never_analysed_says_which_file(old: RunDir, tmp_path: Path) -> None:
    """With no current analysis.sqlite, scan must build one into the run dir: on a read-only
    one it says which file it could not write, as one line."""
    run = copy_run(old, tmp_path / "ro")
    before = evidence(run)
    for argv in (["scan", str(run.path)], ["report", str(run.path)],
                 ["export", str(run.path), "--format", "har"]):
        done = _read_only_harness(run.path, *argv)
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        assert "internal error" not in done.stderr
        assert f"{run.path}/analysis.sqlite" in done.stderr, done.stderr
        assert "Read-only file system" in done.stderr
    assert evidence(run) == before


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -rm (user namespaces)")
def test_a_read_only_capture_cut_short_is_refused_not_read_without_its_wal(
        tmp_path: Path) -> None:
    """Read-only, a WAL cannot be read without SQLite's -shm file beside it: rather than
    read the file alone (its last batches silently missing), the reader says so."""
    run = _cut_short(tmp_path)
    done = _read_only_harness(run.path, "export", str(run.path), "--format", "jsonl")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert f"{run.capture_db}: capture.sqlite-wal holds batches not yet in capture.sqlite" \
        in done.stderr, done.stderr

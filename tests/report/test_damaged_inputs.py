"""Damaged derived files, verdicts and suites (fuzz round 12): ``harness report`` says which
file is damaged (and to re-run analyze, which rewrites it) rather than a traceback, and never
renders a report that silently leaves findings out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.capture.rundir import RunDir
from harness.cli import main
from harness.errors import ExitCode, RunDirError
from harness.report.publish import report_folder
from harness.testing.runbuilder import RunBuilder, copy_run

DEV = "a1b2c3d4e5f60718"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> RunDir:
    b = RunBuilder(tmp_path_factory.mktemp("damaged"), "j")
    b.needle("android_id", "device-id", DEV)
    b.phase("first")
    b.request("sa.api.lab.test", "/t?id=" + DEV, body=b'{"distinct_id":"%s"}' % DEV.encode())
    return b.build(analyze=True)


@pytest.fixture
def run(built: RunDir, tmp_path: Path) -> RunDir:
    return copy_run(built, tmp_path / "run")


DERIVED = [
    ("findings.json", b'[{"id": "f1"'),
    ("findings.json", b'[{"id": "\xff"}]'),
    ("findings.json", b"[1]"),
    ("findings.json", b'{"findings": []}'),
    ("findings.json", b'[{"id": "f1", "chain": ["sensors:x"]}]'),
    ("needles.json", b"[" * 100000 + b"]" * 100000),
    ("needles.json", b'[{"name": "n", "class": "device-id"}]'),
    ("destinations.json", b'{"destinations": [1]}'),
    ("destinations.json", b'{"destinations": [{"host": "h", "bytes_out": NaN}]}'),
    ("destinations.json", b'{"destinations": {"host": "h"}}'),
    ("destinations.json", b"[]"),
    ("destinations.json", b'{"destinations": [{"host": "h", "sdks": "x"}]}'),
]


@pytest.mark.parametrize(("name", "content"), DERIVED,
                         ids=[f"{n}-{i}" for i, (n, _c) in enumerate(DERIVED)])
def test_damaged_derived_file_names_it_and_says_to_rerun_analyze(
        run: RunDir, name: str, content: bytes, capsys: pytest.CaptureFixture[str]) -> None:
    (run.path / name).write_bytes(content)
    with pytest.raises(RunDirError) as exc:
        report_folder(run.path)
    assert str(run.path / name) in str(exc.value)
    assert f"re-run `harness analyze {run.path}`" in str(exc.value)
    if name == "needles.json":  # analyze reads the needles from it: it cannot mend it
        assert "restore it" in str(exc.value)
    assert main(["report", str(run.path)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert name in err
    assert len(err.strip().splitlines()) == 1


def test_analyze_rewrites_them(run: RunDir) -> None:
    for name, content in DERIVED:
        if name != "needles.json":
            (run.path / name).write_bytes(content)
    assert main(["analyze", str(run.path)]) == ExitCode.OK
    assert main(["report", str(run.path)]) == ExitCode.OK


VERDICTS = [
    b'{"claim": "x"}', b"[1]", b'[{"claim": "\xff"}]', b"[" * 100000 + b"]" * 100000,
    b'[{"claim": "c", "verdict": "FAIL", "checks": [{"check": "x"}]}]',
    b'[{"claim": "c", "verdict": "FAIL", "checks": [1]}]',
    b'[{"claim": "c", "verdict": "FAIL", "checks": {}}]',
    b'[{"verdict": "PASS"}]',
    b'[{"claim": "c", "verdict": "FAIL", "evidence": "j/f1"}]',
]


@pytest.mark.parametrize("content", VERDICTS, ids=[f"v{i}" for i in range(len(VERDICTS))])
def test_malformed_verdicts_json_names_the_file(run: RunDir, content: bytes,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    (run.path / "verdicts.json").write_bytes(content)
    with pytest.raises(RunDirError, match=r"verdicts\.json") as exc:
        report_folder(run.path)
    assert "--claims" in str(exc.value)
    assert main(["report", str(run.path)]) == ExitCode.BAD_INPUT
    assert "verdicts.json" in capsys.readouterr().err


def test_well_formed_verdicts_still_render(run: RunDir) -> None:
    (run.path / "verdicts.json").write_text(json.dumps([
        {"claim": "c", "verdict": "FAIL", "quote": "q", "source": "s", "reason": "r",
         "evidence": [], "checks": [{"check": "x", "status": "FAIL", "reason": "r"}]}]))
    assert report_folder(run.path).is_file()


SUITES = [
    ("{}", "runs"), ('{"runs": null}', "runs"), ('{"runs": [1]}', "runs"),
    ('{"runs": []}', "runs"), ('{"runs": ["runs/r"], "commands": null}', "commands"),
    ('{"runs": ["runs/r"], "title": 5}', "title"), ("[1]", None), ("{bad", None),
    (b'{"runs": ["\xff"]}', None),
]


@pytest.mark.parametrize(("content", "field"), SUITES, ids=[f"s{i}" for i in range(len(SUITES))])
def test_malformed_suite_json_names_the_file_and_field(
        built: RunDir, tmp_path: Path, content: str | bytes, field: str | None,
        capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(built.path, tmp_path / "runs" / "r")
    suite = tmp_path / "suite.json"
    suite.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(RunDirError) as exc:
        report_folder(tmp_path)
    assert str(suite) in str(exc.value)
    if field is not None:
        assert f"(field {field!r})" in str(exc.value)
    assert main(["report", str(tmp_path)]) == ExitCode.BAD_INPUT
    assert "suite.json" in capsys.readouterr().err


def test_a_good_suite_still_renders(built: RunDir, tmp_path: Path) -> None:
    shutil.copytree(built.path, tmp_path / "runs" / "r")
    (tmp_path / "suite.json").write_text(json.dumps(
        {"title": "t", "runs": ["runs/r"], "commands": ["harness demo"]}))
    assert report_folder(tmp_path).is_file()

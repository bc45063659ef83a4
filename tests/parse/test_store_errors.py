"""The message store's failures where a user meets them: a store that cannot be created is a
run dir error naming it (either writer), and ``harness analyze`` of a run dir it cannot write
says so in one line and leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ExitCode, RunDirError
from harness.parse import store
from harness.testing.runbuilder import RunBuilder


def test_store_that_cannot_be_created_is_a_run_dir_error(tmp_path: Path) -> None:
    path = tmp_path / store.ANALYSIS_DB
    path.with_name(f"{path.name}.{os.getpid()}.tmp").mkdir()
    for compiled in (True, False):
        with pytest.raises(RunDirError) as exc:
            store.StoreWriter(path, compiled=compiled)
        assert str(path) in str(exc.value)


def test_analyze_names_the_store_it_cannot_write(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Through the CLI: one line naming analysis.sqlite, exit 2 (not SQLite's 'unable to
    open database file' as an internal error)."""
    b = RunBuilder(tmp_path / "runs", "j")
    b.phase("first")
    b.request("a.lab.test", "/x")
    run = b.build(analyze=False)
    (run.path / f"{store.ANALYSIS_DB}.{os.getpid()}.tmp").mkdir()
    assert main(["analyze", str(run.path)]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert str(run.path / store.ANALYSIS_DB) in err[0]


def test_analyze_in_a_read_only_run_dir(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A run dir the user may read but not write (evidence handed over read-only). Root
    writes into any directory while it holds CAP_DAC_OVERRIDE, as on these machines and CI:
    there the CLI runs in a child without it (util-linux's setpriv), so the test runs for
    every user."""
    b = RunBuilder(tmp_path / "runs", "j")
    b.phase("first")
    b.request("a.lab.test", "/x")
    run = b.build(analyze=False)
    before = sorted(p.name for p in run.path.iterdir())
    run.path.chmod(0o555)
    try:
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("root without setpriv cannot give up writing anywhere")
            drop = "-dac_override,-dac_read_search"
            child = subprocess.run(
                [setpriv, "--bounding-set", drop, "--inh-caps", drop, "--", sys.executable,
                 "-m", "harness", "analyze", str(run.path)],
                capture_output=True, text=True, timeout=120, check=False)
            code, err = child.returncode, child.stderr.strip().splitlines()
        else:
            code = main(["analyze", str(run.path)])
            err = capsys.readouterr().err.strip().splitlines()
    finally:
        run.path.chmod(0o755)
    assert code == ExitCode.BAD_INPUT, err
    # one line naming the first file the analysis writes (needles.json, before the store)
    # and what to do; the store's own failure is test_analyze_names_the_store_it_cannot_write
    assert len(err) == 1, err
    assert f"{run.path}/needles.json: cannot write" in err[0], err
    assert "copy it somewhere writable" in err[0], err
    assert sorted(p.name for p in run.path.iterdir()) == before  # nothing half-written

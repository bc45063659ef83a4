"""The ``harness`` entry point itself: what every command shares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]


def _har(path: Path, entries: int) -> Path:
    entry = {"startedDateTime": "2026-12-06T08:00:00.000Z",
             "request": {"method": "GET", "url": "http://h.test/?id=abcdefgh"}}
    path.write_text(json.dumps({"log": {"entries": [entry] * entries}}))
    return path


SCAN = ["scan", "x.har", "--needle", "a=abcdefgh"]


def _env(unbuffered: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return {**env, "PYTHONPATH": str(REPO), **({"PYTHONUNBUFFERED": "1"} if unbuffered else {})}


@pytest.mark.parametrize(("argv", "entries", "read", "unbuffered"), [
    (["--version"], 1, 0, False), (SCAN, 1, 0, False), (SCAN, 1, 0, True),
    ([*SCAN, "--json"], 2000, 10, False), ([*SCAN, "--json"], 2000, 10, True)],
    ids=["version", "table-at-exit", "table-unbuffered", "json-head-c-10",
         "json-head-c-10-unbuffered"])
def test_a_closed_stdout_pipe_ends_quietly(tmp_path: Path, argv: list[str], entries: int,
                                           read: int, unbuffered: bool) -> None:
    """``harness scan x.har --json | head -c 10``: the reader goes away. The write that
    meets the closed pipe is the interpreter's final flush (a short output, buffered; or
    ``--version``, argparse's exit), or a print (unbuffered, or 2000 findings, far beyond a
    pipe's buffer); either way no traceback, and exit code 141 (a shell's for SIGPIPE)."""
    _har(tmp_path / "x.har", entries)
    with subprocess.Popen([sys.executable, "-m", "harness", *argv], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=_env(unbuffered), cwd=tmp_path) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        assert len(proc.stdout.read(read)) == read
        proc.stdout.close()  # as head does once it has its 10 bytes
        err = proc.stderr.read().decode("utf-8", "replace")
        assert proc.wait(timeout=120) == 141, err
    assert err == ""  # no traceback, no "Exception ignored ... BrokenPipeError"


def test_output_to_a_pipe_read_to_the_end_is_whole(tmp_path: Path) -> None:
    """The flush that catches a broken pipe leaves a healthy pipe alone."""
    _har(tmp_path / "x.har", 2000)
    proc = subprocess.run([sys.executable, "-m", "harness", *SCAN, "--json"],
                          capture_output=True, env=_env(False),
                          cwd=tmp_path, timeout=120, check=False)
    assert (proc.returncode, proc.stderr) == (0, b"")
    assert len(json.loads(proc.stdout)["findings"]) == 2000


def test_a_bug_exits_70_with_its_traceback_never_1(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """1 says a claim failed: a script must not read a crash as a verdict."""
    import harness.commands.scan as scan

    def broken(args: object) -> int:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(scan, "run", broken)
    assert main(["scan", "x.har"]) == ExitCode.INTERNAL == 70
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "harness scan: internal error (ZeroDivisionError: division by zero)" in err


def test_the_entry_point_freezes_what_the_run_left(tmp_path: Path) -> None:
    """`harness` and `python -m harness` run cli.entry: main's exit code, then gc.freeze(),
    so that the interpreter's finalization does not walk every object the run left."""
    code = ("import gc, sys; sys.argv = ['harness', 'cache', '--json']\n"
            "from harness.cli import entry\n"
            "code = entry(); print(code, gc.get_freeze_count() > 0, file=sys.stderr)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stderr.strip() == "0 True"
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["harness"] == "harness.cli:entry"
    main_py = (Path(__file__).parents[2] / "harness" / "__main__.py").read_text()
    assert "raise SystemExit(entry())" in main_py

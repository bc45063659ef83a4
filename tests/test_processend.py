"""How ``harness analyze`` ends when run as a program (harness.processend): ``os._exit``
after the interpreter's visible end (threads, atexit, logging, the std streams), with
nothing lost: the same stdout, stderr, exit code and files as ``main()`` in-process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import processend
from harness.analysis import analyze_run
from harness.capture.rundir import RunDir
from harness.cli import main
from harness.testing.runbuilder import RunBuilder, copy_run

REPO = Path(__file__).resolve().parents[1]

_SENTINEL = """
import sys
class Sentinel:
    def __del__(self):
        sys.stderr.write("torn down\\n")
sys.modules["harness"].sentinel = Sentinel()  # freed by the interpreter's teardown
"""
"""An object whose ``__del__`` says when the interpreter tore the modules down."""


def _program(argv: list[str], before: str = "") -> list[str]:
    """``python -m harness ARGV`` as the console script runs it, with ``before`` run
    first (in the process, after ``import harness``)."""
    code = (f"import sys, harness\n{_SENTINEL}\n{before}\n"
            f"sys.argv = ['harness', *{argv!r}]\n"
            "from harness.cli import entry\nraise SystemExit(entry())\n")
    return [sys.executable, "-c", code]


def _env() -> dict[str, str]:
    """This checkout first; stdout block-buffered into its pipe (as it is by default), so
    that what the end does not flush would be lost."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    path = env.get("PYTHONPATH", "")
    return {**env, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO)}


def _run(argv: list[str], before: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(_program(argv, before), capture_output=True, text=True,
                          env=_env(), timeout=300, check=False)


@pytest.fixture
def built(tmp_path: Path) -> RunDir:
    b = RunBuilder(tmp_path, "r")
    b.needle("android-id", "device-id", "a1b2c3d4e5f60718")
    b.phase("normal")
    for i in range(30):  # more findings than the summary lists (20), and notes
        b.request("sa.api.lab.test", f"/sa?u=a1b2c3d4e5f60718&i={i}")
        b.request("api.mixpanel.com", f"/track?d=a1b2c3d4e5f60718&n={i}")
    return b.build(analyze=False)


_OUTPUTS = ("findings.json", "destinations.json", "needles.json")


def test_analyze_as_a_program_loses_nothing(built: RunDir, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """stdout piped and read whole, stderr, exit code and every file as main() gives them
    in-process; and the process did end untorn (the sentinel's ``__del__`` never ran), so
    this is the path under test, not the interpreter's own end."""
    inproc = copy_run(built, tmp_path / "in")
    prog = copy_run(built, tmp_path / "prog")
    assert main(["analyze", str(inproc.path)]) == 0
    want = capsys.readouterr()
    got = _run(["analyze", str(prog.path)])
    assert got.returncode == 0, got.stderr
    assert got.stdout == want.out.replace(str(inproc.path), str(prog.path))
    assert "more in findings.json" in got.stdout  # the summary's last lines too
    assert got.stderr == want.err == ""  # no "torn down": ended by os._exit
    for name in _OUTPUTS:
        assert (prog.path / name).read_bytes() == (inproc.path / name).read_bytes(), name
    assert sorted(p.name for p in prog.path.iterdir()) == sorted(
        p.name for p in inproc.path.iterdir())  # no -wal, -journal or .tmp left behind
    mine = analyze_run(prog)  # analysis.sqlite whole: read back by a new analysis's peers
    assert mine.messages == analyze_run(inproc).messages > 0


def test_other_commands_end_as_ever(tmp_path: Path) -> None:
    """A command not in ENDS_UNTORN is torn down by the interpreter (its finalizers run)."""
    got = subprocess.run(_program(["cache", "--json"]), capture_output=True, text=True,
                         env={**_env(), "XDG_CACHE_HOME": str(tmp_path)}, timeout=300,
                         check=False)
    assert (got.returncode, got.stderr) == (0, "torn down\n")


_EXIT_WORK = """
import atexit, logging, logging.handlers, threading, time
atexit.register(lambda: print("atexit ran"))
def later():
    time.sleep(0.3)
    open({out!r}, "w").write("thread done")
threading.Thread(target=later).start()  # not a daemon: the exit waits for it
buffered = logging.handlers.MemoryHandler(1000, flushLevel=logging.CRITICAL,
                                          target=logging.StreamHandler(sys.stderr))
logging.getLogger("late").addHandler(buffered)
logging.getLogger("late").warning("held until logging.shutdown")
"""


def test_the_end_runs_threads_atexit_and_logging(built: RunDir, tmp_path: Path) -> None:
    """What the interpreter's end does before freeing, in its order: non-daemon threads
    joined, atexit handlers (logging's flush among them), the std streams flushed."""
    out = tmp_path / "thread.txt"
    got = _run(["analyze", str(built.path)], _EXIT_WORK.format(out=str(out)))
    assert got.returncode == 0, got.stderr
    assert got.stdout.endswith("atexit ran\n")
    assert out.read_text() == "thread done"
    assert got.stderr == "held until logging.shutdown\n"


_FAIL = """
import harness.commands.analyze as command
def broken(*args, **kwargs):
    raise ZeroDivisionError("division by zero")
command.analyze_run = broken
"""


def test_a_failing_analyze_exits_as_before(tmp_path: Path) -> None:
    """An expected error and a bug: the exit code and stderr main() gives in-process."""
    missing = tmp_path / "absent"
    got = _run(["analyze", str(missing)])
    code = main(["analyze", str(missing)])
    assert got.returncode == code == 2
    assert got.stderr.startswith("harness analyze: ")
    assert got.stdout == ""
    (tmp_path / "r").mkdir()
    bug = _run(["analyze", str(tmp_path / "r")], _FAIL)
    assert bug.returncode == 70
    assert bug.stderr.startswith("Traceback (most recent call last):\n")
    assert bug.stderr.endswith("harness analyze: internal error (ZeroDivisionError: division"
                               " by zero); this is a bug in the harness, please report it "
                               "with the traceback above\n")


def test_a_profiler_still_gets_its_report(built: RunDir, tmp_path: Path) -> None:
    """``python -m cProfile -o F -m harness analyze``: cProfile writes F after the program
    returns, so the end is the interpreter's own then."""
    prof = tmp_path / "analyze.prof"
    got = subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "harness",
                          "analyze", str(built.path)], capture_output=True, text=True,
                         env=_env(), timeout=300, check=False)
    assert got.returncode == 0, got.stderr
    assert prof.stat().st_size > 0


def test_keep_keeps_nothing_in_process(built: RunDir) -> None:
    """analyze_run called in-process keeps nothing past its return."""
    assert processend._kept is None
    analyze_run(built)
    assert processend._kept is None
    with processend.keeping():
        processend.keep(built)
        assert processend._kept == [(built,)]
    assert processend._kept is None

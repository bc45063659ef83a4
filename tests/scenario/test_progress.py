"""The runner's progress display at its three levels, on a clock the test drives."""

from __future__ import annotations

import pytest

from harness.scenario.progress import Progress, Verbosity, default_verbosity


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _journey(verbosity: Verbosity) -> list[str]:
    lines: list[str] = []
    clock = Clock()
    shown = Progress(lines.append, verbosity, clock)
    shown.start("incognito", "lab:mint-3.4.0", 2)
    shown.phase(1, "normal", 2)
    shown.step(1, 2, "launch")
    clock.now += 1.5
    shown.step(2, 2, "open_url https://canary.lab.test/c/" + "x" * 120)
    clock.now += 2.0
    shown.phase_end(True, 0)
    shown.phase(2, "incognito", 3)
    shown.step(1, 3, "crash")
    clock.now += 61.25
    shown.failed(1, "crash", "the lab browser exited (killed by SIGKILL)",
                 "evidence/incognito-1-crash-app-output.txt")
    shown.phase_end(False, 2)
    shown.note("analysed")
    shown.finish()
    return lines


def test_every_step_with_phase_and_elapsed_time() -> None:
    lines = _journey(Verbosity.STEPS)
    assert lines[0] == "[00:00.0] incognito on lab:mint-3.4.0: 2 phase(s)"
    assert lines[1] == "[00:00.0] phase 1/2 normal: 2 step(s)"
    assert lines[2] == "[00:00.0]   phase 1/2 normal step 1/2: launch"
    assert lines[3].startswith("[00:01.5]   phase 1/2 normal step 2/2: open_url https://")
    assert lines[3].endswith("…")
    assert len(lines[3]) < 160
    assert lines[4] == "[00:03.5] phase 1/2 normal done in 3.5 s"
    assert lines[7] == ("[01:04.8]   ! phase 2/2 incognito step 1 crash failed: the lab "
                        "browser exited (killed by SIGKILL) (evidence: "
                        "evidence/incognito-1-crash-app-output.txt)")
    assert lines[8] == ("[01:04.8] phase 2/2 incognito INCOMPLETE after 61.2 s, 2 step(s) "
                        "not run")
    assert lines[-1] == ("[01:04.8] 1/2 phase(s) complete in 64.8 s; incomplete: incognito "
                         "(1 failed step(s))")


def test_phases_level_leaves_out_the_steps() -> None:
    lines = _journey(Verbosity.PHASES)
    assert not any(" step 1/2" in line or "step 2/2" in line for line in lines)
    assert [line[10:] for line in lines] == [
        "incognito on lab:mint-3.4.0: 2 phase(s)",
        "phase 1/2 normal: 2 step(s)",
        "phase 1/2 normal done in 3.5 s",
        "phase 2/2 incognito: 3 step(s)",
        "  ! phase 2/2 incognito step 1 crash failed: the lab browser exited (killed by "
        "SIGKILL) (evidence: evidence/incognito-1-crash-app-output.txt)",
        "phase 2/2 incognito INCOMPLETE after 61.2 s, 2 step(s) not run",
        "analysed",
        "1/2 phase(s) complete in 64.8 s; incomplete: incognito (1 failed step(s))",
    ]


def test_quiet_says_only_failures_and_the_end() -> None:
    lines = _journey(Verbosity.QUIET)
    assert [line[10:] for line in lines] == [
        "  ! phase 2/2 incognito step 1 crash failed: the lab browser exited (killed by "
        "SIGKILL) (evidence: evidence/incognito-1-crash-app-output.txt)",
        "phase 2/2 incognito INCOMPLETE after 61.2 s, 2 step(s) not run",
        "1/2 phase(s) complete in 64.8 s; incomplete: incognito (1 failed step(s))",
    ]


def test_a_clean_quiet_run_says_one_line() -> None:
    lines: list[str] = []
    shown = Progress(lines.append, Verbosity.QUIET, Clock())
    shown.start("browsing", "lab:mint-3.4.3", 1)
    shown.phase(1, "browse", 1)
    shown.step(1, 1, "launch")
    shown.phase_end(True, 0)
    shown.finish()
    assert lines == ["[00:00.0] 1/1 phase(s) complete in 0.0 s"]


@pytest.mark.parametrize(("quiet", "expected"), [(True, Verbosity.QUIET),
                                                 (False, Verbosity.PHASES)])
def test_default_level_off_a_terminal(quiet: bool, expected: Verbosity) -> None:
    # pytest captures stderr: it is not a terminal here, as in CI
    assert default_verbosity(quiet) == expected

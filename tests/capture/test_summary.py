"""The capture summary names every process the capture lost or never saw."""

from __future__ import annotations

from pathlib import Path

from harness.capture.rundir import RunDir
from harness.capture.summary import summarize


def test_lost_processes_are_named_and_ended_ones_are_not(tmp_path: Path) -> None:
    run = RunDir.create(tmp_path, "r")
    info = run.load_info()
    info.health.detached = [
        {"pid": 42, "t": 1.0, "reason": "process-terminated"},
        {"pid": 43, "t": 1.0, "reason": "process-replaced"},
        {"pid": 44, "t": 1.0, "reason": "teardown-timeout-after-flush: detach did not return"},
        {"pid": 45, "t": 1.0, "reason": "lost-after-fork: child of pid 42, killed by signal 11"},
        {"pid": 42, "t": 2.0, "reason": "unrequested-detach: Frida reported application-requested"},
    ]
    run.save_info(info)
    lines = summarize(run).lines()
    assert [line for line in lines if line.startswith("not captured")] == [
        "not captured: pid 45: lost-after-fork: child of pid 42, killed by signal 11",
        "not captured: pid 42: unrequested-detach: Frida reported application-requested"]

"""The journey runner on the lab browser: a crash midway, and the capture checked against the
lab servers' own logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from harness.agent.session import AgentConfig
from harness.capture.rundir import RunDir
from harness.claims.evidence import load_facts
from harness.claims.model import load_claims
from harness.claims.verdicts import INCONCLUSIVE, evaluate
from harness.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
CRASHING = """\
name: crash-midway
phases:
  - name: before
    steps:
      - launch
      - open_url: "{canary.url}"
      - crash
      - search: "{canary.query}"
  - name: after
    steps:
      - launch
      - open_url: "{canary.url}"
"""
CLAIM = """\
vendor: lab
vendor_domains: []
claims:
  - id: nothing-browsing-to-sync
    quote: Browsing is never synced.
    source: {file: test, date: 2026-11-22}
    journeys: [crash-midway]
    checks:
      - no_needle: {classes: [browsing], to: sync}
"""


def _quiet(_: str) -> None:
    pass


def test_a_crash_midway_leaves_an_incomplete_phase_and_a_readable_run(tmp_path: Path) -> None:
    scenario = tmp_path / "crash.yaml"
    scenario.write_text(CRASHING, encoding="utf-8")
    lines: list[str] = []
    result = run_scenario(scenario, "lab:mint-3.4.0", out=tmp_path / "runs", say=lines.append)
    assert not result.complete
    info = result.run.load_info()
    before, after = info.phases
    assert not before.complete
    evidence = result.run.path / "evidence" / "before-3-crash-app-output.txt"
    # (the status read "code 0" in loaded full runs: Frida had reaped the JVM; browser._PARENT
    # keeps it now, tests/lab/test_lab_browser.py; the app's output is there if it comes back)
    assert before.notes[0].startswith(
        "step 3 crash failed: the lab browser exited (killed by SIGKILL)"), \
        (before.notes, evidence.read_text("utf-8") if evidence.exists() else "no evidence")
    assert before.notes[1] == "not run after the failure: search: {canary.query}"
    assert after.complete  # the next phase relaunched the app and went on
    with result.run.reader() as reader:
        failed = reader.markers("step-failed")
    assert [m.name for m in failed] == ["before"]
    detail = failed[0].detail
    assert (detail["step"], detail["index"], detail["line"]) == ("crash", 3, 7)
    assert detail["exit_code"] == -signal.SIGKILL
    assert detail["skipped"] == ["search: {canary.query}"]
    # What the app printed before it died is kept in the run dir as the step's evidence.
    assert detail["evidence"] == ["evidence/before-3-crash-app-output.txt"]
    kept = (result.run.path / "evidence" / "before-3-crash-app-output.txt").read_text("utf-8")
    assert "exit code: -9 (SIGKILL)" in kept
    assert "lab browser: open_url" in kept  # what it did before
    assert kept.rstrip().endswith(f"crash step: killing pid {detail['app_pid']} with SIGKILL")
    assert any("with SIGKILL" in line for line in detail["app_output"])  # type: ignore[union-attr]
    # The progress display said where it failed, with the evidence, and how the run ended.
    said = "\n".join(lines)
    assert "phase 1/2 before: 4 step(s)" in said
    assert "phase 1/2 before step 3/4: crash" in said
    assert ("! phase 1/2 before step 3 crash failed: the lab browser exited (killed by "
            "SIGKILL) (evidence: evidence/before-3-crash-app-output.txt)") in said
    assert "phase 1/2 before INCOMPLETE" in said
    assert "1 step(s) not run" in said
    assert "phase 2/2 after done" in said
    assert "1/2 phase(s) complete" in said
    assert "incomplete: before (1 failed step(s))" in said
    # The page load before the crash was captured; the search after it never happened.
    findings = json.loads(result.run.file("findings.json").read_text("utf-8"))
    controls = {f["needle"] for f in findings if f["control"]}
    assert {"canary-url:before", "canary-url:after"} <= controls
    assert "canary-query:before" not in {f["needle"] for f in findings}
    # Readable by the other commands, and no claim passes on it.
    for argv in (["analyze", str(result.run.path)],
                 ["export", str(result.run.path), "--format", "jsonl"],
                 ["report", str(result.run.path)]):
        done = subprocess.run([sys.executable, "-m", "harness", *argv], capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, (argv, done.stderr)
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIM, encoding="utf-8")
    [verdict] = evaluate(load_claims(claims), [load_facts(result.run)])
    assert verdict.verdict == INCONCLUSIVE
    assert "phase 'before' did not complete" in verdict.reason


def test_every_request_the_lab_servers_got_was_captured(tmp_path: Path) -> None:
    result = run_scenario(ROOT / "scenarios" / "incognito.yaml", "lab:mint-3.4.0",
                          out=tmp_path, say=_quiet)
    lab = result.run.load_info().extra["completeness"]
    assert isinstance(lab, dict)
    assert lab["missing"] == 0, lab
    hosts = lab["hosts"]
    assert isinstance(hosts, dict)
    # two canary pages, two searches and the download, and the analytics uploads
    assert hosts["canary.lab.test"]["received"] == 5  # type: ignore[index]
    assert hosts["sa.api.lab.test"]["received"] >= 4  # type: ignore[index]
    # each planted canary was loaded from the site and seen as a control by the capture
    controls = lab["positive_controls"]
    assert isinstance(controls, dict)
    assert set(controls) == {"canary-url:normal", "canary-query:normal", "canary-url:incognito",
                             "canary-query:incognito", "canary-download:incognito"}
    assert all(c["site"] == 1 and c["capture"] >= 1 and c["seen_by_both"]  # type: ignore[index]
               for c in controls.values()), controls
    assert lab["controls_missing"] == []


def test_a_capture_blind_to_the_apps_stack_is_caught_by_the_servers_logs(
        tmp_path: Path) -> None:
    result = run_scenario(ROOT / "scenarios" / "incognito.yaml", "lab:mint-3.4.0",
                          out=tmp_path, say=_quiet, agent=AgentConfig(java=False, native=True))
    lab = RunDir.open(result.run.path).load_info().extra["completeness"]
    assert isinstance(lab, dict)
    assert isinstance(lab["missing"], int)
    assert lab["missing"] >= 9
    # the site served every canary page; a capture blind to Java saw none of them
    controls = lab["positive_controls"]
    assert isinstance(controls, dict)
    assert controls
    assert all(c["site"] >= 1 and c["capture"] == 0  # type: ignore[index]
               for c in controls.values()), controls
    assert lab["controls_missing"] == list(controls)
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIM.replace("[crash-midway]", "[incognito]"), encoding="utf-8")
    [verdict] = evaluate(load_claims(claims), [load_facts(result.run)])
    assert verdict.verdict == INCONCLUSIVE
    assert "the lab servers received" in verdict.reason


def test_harness_run_quiet_says_only_the_failure_and_the_end(tmp_path: Path) -> None:
    scenario = tmp_path / "crash.yaml"
    scenario.write_text(CRASHING, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "harness", "run", str(scenario), "--quiet",
                           "--out", str(tmp_path / "runs")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    said = [line[10:] for line in done.stderr.splitlines() if line.startswith("[")]
    assert said == [
        "  ! phase 1/2 before step 3 crash failed: the lab browser exited (killed by SIGKILL) "
        "(evidence: evidence/before-3-crash-app-output.txt)",
        said[1],
        "1/2 phase(s) complete in " + said[2].split(" in ", 1)[1],
    ], done.stderr
    assert said[1].startswith("phase 1/2 before INCOMPLETE after ")
    assert said[1].endswith(" s, 1 step(s) not run")
    assert said[2].endswith(" s; incomplete: before (1 failed step(s))")
    assert "phases are marked incomplete" in done.stderr
    [run] = (tmp_path / "runs").iterdir()
    assert f"run: {run}" in done.stdout


HANGING = """\
name: hang-midway
phases:
  - name: stuck
    steps:
      - launch
      - open_url: "{canary.url}"
      - idle: 60
      - search: "{canary.query}"
  - name: next
    steps:
      - open_url: "{canary.url}"
"""


def test_a_step_without_answer_kills_the_hung_app_and_the_next_phase_goes_on(
        tmp_path: Path) -> None:
    scenario = tmp_path / "hang.yaml"
    scenario.write_text(HANGING, encoding="utf-8")
    result = run_scenario(scenario, "lab:mint-3.4.0", out=tmp_path / "runs", say=_quiet,
                          step_timeout=3)
    stuck, after = result.run.load_info().phases
    assert not stuck.complete
    assert stuck.notes[0].startswith("step 3 idle: 60.0 failed: no answer within 3 s")
    assert stuck.notes[2].endswith("did not answer and was killed")
    assert after.complete
    with result.run.reader() as reader:
        [failed] = reader.markers("step-failed")
    assert failed.detail["exit_code"] == -signal.SIGKILL
    kept = (result.run.path / "evidence" / "stuck-3-idle-app-output.txt").read_text("utf-8")
    assert "exit code: still running" in kept  # written while it hung, before the kill
    assert kept.rstrip().endswith("lab browser: idle")
    findings = json.loads(result.run.file("findings.json").read_text("utf-8"))
    assert {"canary-url:stuck", "canary-url:next"} <= {f["needle"] for f in findings
                                                       if f["control"]}

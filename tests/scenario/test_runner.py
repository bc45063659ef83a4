"""The journey runner on the lab browser: a crash midway, and the capture checked against the
lab servers' own logs."""

from __future__ import annotations

import json
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
    result = run_scenario(scenario, "lab:mint-3.4.0", out=tmp_path / "runs", say=_quiet)
    assert not result.complete
    info = result.run.load_info()
    before, after = info.phases
    assert not before.complete
    assert any("crash" in n for n in before.notes), before.notes
    assert after.complete  # the next phase relaunched the app and went on
    with result.run.reader() as reader:
        failed = reader.markers("step-failed")
    assert failed, "no step-failed marker"
    # What the app printed before it died is kept as the step's evidence.
    assert "app_output" in failed[0].detail
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


def test_a_capture_blind_to_the_apps_stack_is_caught_by_the_servers_logs(
        tmp_path: Path) -> None:
    result = run_scenario(ROOT / "scenarios" / "incognito.yaml", "lab:mint-3.4.0",
                          out=tmp_path, say=_quiet, agent=AgentConfig(java=False, native=True))
    lab = RunDir.open(result.run.path).load_info().extra["completeness"]
    assert isinstance(lab, dict)
    assert isinstance(lab["missing"], int)
    assert lab["missing"] >= 9
    claims = tmp_path / "claims.yaml"
    claims.write_text(CLAIM.replace("[crash-midway]", "[incognito]"), encoding="utf-8")
    [verdict] = evaluate(load_claims(claims), [load_facts(result.run)])
    assert verdict.verdict == INCONCLUSIVE
    assert "the lab servers received" in verdict.reason

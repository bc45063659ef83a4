"""Every standard journey, run through the real runner on the lab browser (mint-3.4.0, the
build as reported in 2020): all phases complete, every planted canary seen by both the
canary site and the capture, nothing the lab servers received missing from the capture, and
what that journey is about (the incognito canaries inside the Sensors payload, history sync
only when signed in with sync on, the idle phases' device ids). Plus the fixed build
(mint-3.4.3) with the usage-statistics switch off: no browsing canary leaves in incognito.

The agent and the lab browser are built once for the module (both are cached on disk keyed
by their sources); each journey is one real run: JVM, Frida attach, servers, analysis.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.agent.bundle import build_agent
from harness.capture.rundir import RunInfo
from harness.lab.build import build_lab_browser
from harness.scenario.runner import run_scenario
from harness.scenario.suite import STANDARD

ROOT = Path(__file__).resolve().parents[2]
JOURNEYS = sorted((ROOT / "scenarios").glob("*.yaml"))
SENSORS = "sensors:data_list (crc ok)"


@dataclass(frozen=True)
class Run:
    info: RunInfo
    findings: list[dict[str, Any]]

    def leaks(self, **where: object) -> list[dict[str, Any]]:
        """What the app sent (positive controls left out), filtered by field values."""
        return [f for f in self.findings if not f["control"]
                and all(f["class" if k == "cls" else k] == v for k, v in where.items())]


@pytest.fixture(scope="module")
def built() -> None:
    build_agent()
    build_lab_browser()


def _run(path: Path, app: str, out: Path) -> Run:
    result = run_scenario(path, app, out=out, say=lambda _: None)
    findings = json.loads(result.run.file("findings.json").read_text("utf-8"))
    return Run(result.run.load_info(), findings)


def _in_sensors(f: dict[str, Any]) -> bool:
    return f["host"] == "sa.api.lab.test" and any(SENSORS in c for c in f["chain"])


def _browsing(run: Run) -> None:
    for kind in ("url", "query", "download"):
        found = run.leaks(needle=f"canary-{kind}:browse")
        assert any(_in_sensors(f) for f in found), (kind, found)
    assert run.leaks(needle="android-id", host="sa.api.lab.test")


def _incognito_leaks(run: Run) -> None:
    for kind in ("url", "query", "download"):
        found = [f for f in run.leaks(needle=f"canary-{kind}:incognito") if _in_sensors(f)]
        assert found, kind
        assert {f["phase"] for f in found} == {"incognito"}
        chain = " → ".join(found[0]["chain"])
        for layer in ("base64", "gzip", "json:"):
            assert layer in chain, chain
    assert [p.state["incognito"] for p in run.info.phases] == [False, True]


def _sync_on(run: Run) -> None:
    synced = run.leaks(host="sync.lab.test", cls="browsing")
    assert {f["needle"] for f in synced} >= {"canary-url:signed-in-sync",
                                              "canary-query:signed-in-sync"}, synced
    assert run.leaks(needle="account", host="sa.api.lab.test")  # login_id when signed in


def _sync_off(run: Run) -> None:
    hosts = run.info.extra["completeness"]["hosts"]  # type: ignore[index]
    assert "sync.lab.test" not in hosts  # nothing was even attempted
    assert run.leaks(needle="account", host="sa.api.lab.test")


def _signed_out(run: Run) -> None:
    assert {f["phase"] for f in run.leaks(needle="account")} == {"signed-in"}
    assert run.leaks(needle="canary-url:signed-out", host="sa.api.lab.test")


def _restart_idle(run: Run) -> None:
    # With nobody browsing the app still reports, and on 3.4.0 each event carries the
    # device ids; no browsing value is among what it sends then.
    for phase in ("after-restart", "after-reset"):
        sent = {f["needle"] for f in run.leaks(phase=phase, host="sa.api.lab.test")}
        assert {"android-id", "imei"} <= sent, (phase, sent)
        assert not run.leaks(phase=phase, cls="browsing"), phase


EXPECT: dict[str, Callable[[Run], None]] = {
    "browsing": _browsing,
    "incognito": _incognito_leaks,
    "incognito-stats-off": _incognito_leaks,  # the 2020 build ignores the switch
    "signed-in-sync-on": _sync_on,
    "signed-in-sync-off": _sync_off,
    "signed-out": _signed_out,
    "restart-idle": _restart_idle,
}


def test_the_standard_journeys_are_the_scenario_files() -> None:
    assert {p.stem for p in JOURNEYS} == set(STANDARD) == set(EXPECT)


def _common(run: Run) -> None:
    assert run.info.phases
    assert all(p.complete for p in run.info.phases), run.info.phases
    lab = run.info.extra["completeness"]
    assert isinstance(lab, dict)
    assert lab["missing"] == 0, lab
    assert lab["positive_controls"], "the journey planted no canary"
    assert lab["controls_missing"] == [], lab["positive_controls"]
    # history sync happens only in a phase where the user is signed in with sync on
    states = {p.name: p.state for p in run.info.phases}
    for f in run.leaks(host="sync.lab.test"):
        assert states[f["phase"]]["signed_in"], f
        assert states[f["phase"]]["sync"], f


@pytest.mark.parametrize("path", JOURNEYS, ids=lambda p: p.stem)
def test_journey_on_the_2020_build(path: Path, built: None, tmp_path: Path) -> None:
    run = _run(path, "lab:mint-3.4.0", tmp_path)
    _common(run)
    EXPECT[path.stem](run)


def test_fixed_build_sends_no_browsing_canary_in_incognito_with_stats_off(
        built: None, tmp_path: Path) -> None:
    run = _run(ROOT / "scenarios" / "incognito-stats-off.yaml", "lab:mint-3.4.3", tmp_path)
    _common(run)
    assert not run.leaks(phase="incognito", cls="browsing")
    assert not run.leaks(phase="incognito", host="sa.api.lab.test")
    controls = run.info.extra["completeness"]["positive_controls"]  # type: ignore[index]
    assert set(controls) == {"canary-url:incognito", "canary-query:incognito",  # type: ignore[arg-type]
                             "canary-download:incognito"}
    # and the app was talking: the setup phase's app_start left for the analytics host
    assert run.info.extra["completeness"]["hosts"]["sa.api.lab.test"]["received"] >= 1  # type: ignore[index]

"""The gates on a real capture: the fixed lab build (mint-3.4.3) with statistics off passes
five claims when the agent hooks its HTTP stack (JSSE); the same journey with the Java hooks
off captures nothing of the app, and every one of those PASSes becomes INCONCLUSIVE, saying
that the hooks for the stack in use were not installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.agent.session import AgentConfig
from harness.scenario.runner import run_scenario

pytestmark = [pytest.mark.frida, pytest.mark.java]
SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "incognito-stats-off.yaml"
CLAIMS = """\
vendor: Xiaomi
vendor_domains: [xiaomi.com, miui.com]
claims:
"""
CHECKS = {
    "incognito-no-browsing": "no_needle: {classes: [browsing], to: all, "
                             "phases: {incognito: true}}",
    "opt-out": "respects_opt_out: {switch: usage_stats, classes: [browsing, device-id, "
               "account-id], to: all}",
    "tls": "tls_at_least: {version: TLSv1.2, to: all}",
    "not-encoded": "encrypted_not_encoded: {classes: [browsing, device-id], "
                   "phases: {incognito: true}}",
    "no-sensors": "no_destination: {operator: Sensors Analytics, about: operator}",
}


def verdicts(tmp: Path, java: bool) -> dict[str, dict[str, object]]:
    claims = tmp / "claims.yaml"
    claims.write_text(CLAIMS + "".join(
        f"  - id: {cid}\n    quote: The vendor says {cid}.\n"
        f"    source: {{file: test, date: 2020-05-02}}\n"
        f"    journeys: [incognito-stats-off]\n    checks:\n      - {check}\n"
        for cid, check in CHECKS.items()), encoding="utf-8")
    result = run_scenario(SCENARIO, "lab:mint-3.4.3", out=tmp / ("java" if java else "nojava"),
                          claims=claims, agent=AgentConfig(java=java, native=True),
                          say=lambda _s: None)
    data = json.loads(result.run.file("verdicts.json").read_text(encoding="utf-8"))
    return {str(v["claim"]): v for v in data}


def test_java_hooks_off_turns_every_pass_inconclusive(tmp_path: Path) -> None:
    hooked = verdicts(tmp_path, java=True)
    assert {c: v["verdict"] for c, v in hooked.items()} == dict.fromkeys(CHECKS, "PASS"), \
        {c: v["reason"] for c, v in hooked.items()}
    blind = verdicts(tmp_path, java=False)
    for cid, v in blind.items():
        assert v["verdict"] == "INCONCLUSIVE", (cid, v["reason"])
        gates = v["gates"]
        assert isinstance(gates, list)
        assert "incognito-stats-off: no hook of java.jsse was installed, and the app's " \
               "traffic goes through it" in gates
        assert any("no positive control was seen" in str(g) for g in gates)
        assert v["evidence"] == []

"""A suite: the standard journeys on one app, checked together against one claims file.

This is ``harness demo``: each journey is its own run dir; a claim that needs several
journeys (history sync only when signed in *and* sync on) is judged over all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.claims.evidence import load_facts
from harness.claims.model import load_claims
from harness.claims.verdicts import Verdict, evaluate
from harness.report.publish import SUITE_JSON, publish
from harness.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
STANDARD = ("browsing", "incognito", "incognito-stats-off", "signed-in-sync-on",
            "signed-in-sync-off", "signed-out", "restart-idle")
XIAOMI_CLAIMS = SCENARIOS / "claims" / "xiaomi-2020.yaml"


@dataclass(frozen=True, slots=True)
class SuiteResult:
    folder: Path
    report: Path
    verdicts: list[Verdict]


def run_suite(app: str, out: Path, *, claims: Path = XIAOMI_CLAIMS,
              journeys: Sequence[str] = STANDARD, say: Callable[[str], None] = print,
              commands: Sequence[str] = (), redact: bool = True) -> SuiteResult:
    claims_file = load_claims(claims)  # a broken claims file stops us before any run
    folder = out / f"suite-{app.replace(':', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"
    runs_dir = folder / "runs"
    run_paths: list[Path] = []
    for i, name in enumerate(journeys, 1):
        say(f"[{i}/{len(journeys)}] journey {name} on {app}")
        result = run_scenario(SCENARIOS / f"{name}.yaml", app, out=runs_dir,
                              say=lambda s: say("    " + s.strip()))
        run_paths.append(result.run.path)
    facts = [load_facts(p) for p in run_paths]
    verdicts = evaluate(claims_file, facts)
    title = f"{claims_file.vendor} claims vs {app}"
    (folder / SUITE_JSON).write_text(json.dumps({
        "title": title, "app": app, "claims": str(claims),
        "runs": [str(p.relative_to(folder)) for p in run_paths],
        "commands": list(commands)}, indent=2), encoding="utf-8")
    report = publish(folder, title, [v.to_json() for v in verdicts], facts, commands=commands,
                     redact=redact)
    return SuiteResult(folder, report, verdicts)

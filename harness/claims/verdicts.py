"""Verdicts, fail-closed: PASS only when the runs show they could have seen a violation.

FAIL needs at least one violated check with evidence. PASS needs every check to have
looked and seen nothing, *and* the gates: the journeys the claim needs were run and their
phases completed; the hooks for the stacks in use were installed; no sequence gaps or
protocol errors; the positive controls (each planted canary's own page load) were seen; and,
where the device counts bytes, the hooks saw at least 95% of what the kernel saw leave.
Anything else is INCONCLUSIVE, with every reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.rundir import RunDir, blinding_detach
from harness.claims.checks import HELD, UNKNOWN, VIOLATED, CheckResult, run_check
from harness.claims.coverage import coverage, kernel_packets_out
from harness.claims.evidence import RunFacts, load_facts
from harness.claims.model import Claim, ClaimsFile, load_claims
from harness.errors import ExitCode, InputError

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
VERDICTS_JSON = "verdicts.json"
COVERAGE_MIN = 0.95
TLS_HOOK_MARKERS = ("native.tls.", "java.jsse", "java.conscrypt", "java.okhttp")


@dataclass
class Verdict:
    claim: Claim
    verdict: str
    reason: str
    evidence: list[str]
    checks: list[CheckResult]
    gates: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        src = self.claim.source
        return {
            "claim": self.claim.id, "quote": self.claim.quote,
            "source": f"{src.get('by', '')} ({src.get('file')}, {src.get('date')})".strip(),
            "verdict": self.verdict, "reason": self.reason, "evidence": self.evidence,
            "checks": [{"check": r.check.describe(), "status": r.status, "reason": r.reason,
                        "evidence": r.evidence} for r in self.checks],
            "gates": self.gates, "journeys": list(self.claim.journeys),
        }


def gate_reasons(claim: Claim, runs: Sequence[RunFacts],
                 results: Sequence[CheckResult]) -> list[str]:
    reasons: list[str] = []
    by_journey = {f.journey: f for f in runs}
    for j in claim.journeys:
        if j not in by_journey:
            reasons.append(f"journey {j!r} was not run")
    used = [by_journey[j] for j in claim.journeys if j in by_journey] or list(runs)
    looked = {key for r in results for key in r.phases}
    for facts in used:
        h = facts.info.health
        for p in facts.info.phases:
            if not p.complete and ((facts.rid, p.name) in looked or not looked):
                reasons.append(f"{facts.journey}: phase {p.name!r} did not complete ("
                               + "; ".join(p.notes or ["no detail"]) + ")")
        if not facts.info.phases:
            reasons.append(f"{facts.journey}: the run has no phases")
        if facts.info.status != "complete":
            reasons.append(f"{facts.journey}: the capture did not end cleanly (status "
                           f"{facts.info.status!r})")
        gaps = max(h.sequence_gaps, facts.recorded_gaps)
        if gaps:
            reasons.append(f"{facts.journey}: {gaps} agent batch(es) missing (sequence gaps)")
        errors = max(h.protocol_errors, facts.recorded_protocol_errors)
        if errors:
            reasons.append(f"{facts.journey}: {errors} malformed agent message(s)")
        if facts.unreadable_rows:
            reasons.append(f"{facts.journey}: {facts.unreadable_rows} row(s) of capture.sqlite"
                           " could not be read")
        required = facts.info.target.get("required_hooks")
        needed = [str(x) for x in required] if isinstance(required, list) else []
        installed = [n for n, s in facts.hooks.items() if s == "installed"]
        for group in needed:
            if not any(n.startswith(group) for n in installed):
                reasons.append(f"{facts.journey}: no hook of {group} was installed, and the "
                               "app's traffic goes through it")
        failed = sorted(n for n, s in facts.hooks.items() if s == "failed")
        if failed:
            # a hook fails only where its target exists: that stack is in the app, unwatched
            reasons.append(f"{facts.journey}: {len(failed)} hook(s) failed to install ("
                           + ", ".join(failed[:3]) + ("…" if len(failed) > 3 else "")
                           + "); traffic through them would not be seen")
        if not needed and not any(n.startswith(TLS_HOOK_MARKERS) for n in installed):
            reasons.append(f"{facts.journey}: no TLS hook was installed")
        controls = {str(f.get("needle")) for f in facts.findings if f.get("control")}
        if not controls:
            reasons.append(f"{facts.journey}: no positive control was seen (no canary page "
                           "load was captured), so the capture cannot show it saw the app")
        planted = facts.info.extra.get("planted_canaries")
        for name in planted if isinstance(planted, list) else []:
            if str(name).startswith("canary-url:") and str(name) not in controls:
                reasons.append(f"{facts.journey}: the page load of {name} was not captured")
        cut = [m.id for m in facts.messages if m.direction == "out"
               and any("truncated" in n for n in m.notes)
               and ((facts.rid, str(m.phase)) in looked or not looked)]
        if cut:
            reasons.append(f"{facts.journey}: {len(cut)} message(s) the app sent were cut by "
                           f"the capture ({', '.join(cut[:3])}); the bytes not recorded were "
                           "not searched")
        for d in h.detached:
            if blinding_detach(d.get("reason")):
                reasons.append(f"{facts.journey}: the agent lost pid {d.get('pid')} "
                               f"({d.get('reason')}); what it sent afterwards was not seen")
        lab = facts.info.extra.get("completeness")
        if isinstance(lab, dict) and isinstance(lab.get("missing"), int) and lab["missing"]:
            hosts = lab.get("hosts")
            examples: list[str] = []
            for v in hosts.values() if isinstance(hosts, dict) else []:
                ex = v.get("examples") if isinstance(v, dict) else None
                examples += [str(e) for e in ex] if isinstance(ex, list) else []
            reasons.append(f"{facts.journey}: the lab servers received {lab['missing']} "
                           f"request(s) the capture did not record ({'; '.join(examples[:3])})")
        if h.bytes_kernel_out:
            cov = coverage(facts.run, h.bytes_kernel_out, kernel_packets_out(facts.info.extra))
            if cov.ratio < COVERAGE_MIN:
                reasons.append(f"{facts.journey}: byte coverage {cov.describe()} (needs "
                               f"{COVERAGE_MIN:.0%})")
    return reasons


def judge(claim: Claim, runs: Sequence[RunFacts], vendor_domains: tuple[str, ...]) -> Verdict:
    scoped = [f for f in runs if f.journey in claim.journeys] or list(runs)
    results = [run_check(c, scoped, vendor_domains) for c in claim.checks]
    violated = [r for r in results if r.status == VIOLATED and r.evidence]
    for r in results:
        if r.status == VIOLATED and not r.evidence:  # FAIL needs evidence; without, unknown
            r.status, r.reason = UNKNOWN, f"{r.reason} (but no evidence to cite)"
    if violated:
        evidence = [e for r in violated for e in r.evidence]
        return Verdict(claim, FAIL, "; ".join(r.reason for r in violated), evidence, results)
    gates = gate_reasons(claim, runs, results)
    unknown = [r.reason for r in results if r.status == UNKNOWN]
    if gates or unknown:
        why = unknown + gates
        return Verdict(claim, INCONCLUSIVE, "; ".join(why), [], results, gates)
    assert all(r.status == HELD for r in results)
    return Verdict(claim, PASS, "; ".join(r.reason for r in results), [], results)


def evaluate(claims: ClaimsFile, runs: Sequence[RunFacts]) -> list[Verdict]:
    check_distinct(runs)
    return [judge(c, runs, claims.vendor_domains) for c in claims.claims]


def check_distinct(runs: Sequence[RunFacts]) -> None:
    """Evidence cites ``RUN_ID/f12``: two runs with one id (a run dir copied into a suite)
    would make it point at either. Refused, naming both."""
    seen: dict[str, RunFacts] = {}
    for f in runs:
        other = seen.setdefault(f.rid, f)
        if other is not f:
            raise InputError(f"two runs have the run id {f.rid!r} ({other.run.path} and "
                             f"{f.run.path}); evidence could not say which one it cites",
                             path=str(f.run.path / "run.json"), field="run_id")


def exit_code(verdicts: Sequence[Verdict] | Sequence[dict[str, object]]) -> ExitCode:
    words = [v.verdict if isinstance(v, Verdict) else v.get("verdict") for v in verdicts]
    if FAIL in words:
        return ExitCode.CLAIM_FAILED
    if INCONCLUSIVE in words:
        return ExitCode.INCONCLUSIVE
    return ExitCode.OK


def write_verdicts(run: RunDir, claims_path: Path, analysis: object = None) -> list[Verdict]:
    """The claims step of ``harness analyze RUN_DIR --claims FILE`` (a suite of one run)."""
    claims = load_claims(claims_path)
    verdicts = evaluate(claims, [load_facts(run)])
    run.write_json(VERDICTS_JSON, [v.to_json() for v in verdicts])
    return verdicts


def exit_code_of(run: RunDir) -> ExitCode:
    path = run.file(VERDICTS_JSON)
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    return exit_code([v for v in data if isinstance(v, dict)])

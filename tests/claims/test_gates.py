"""Fail-closed: one clean run passes a claim of every check kind; each thing that stops a
capture from showing it could have seen a violation turns every one of those PASSes into
INCONCLUSIVE, with the reason listed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.capture.rundir import RunDir
from harness.capture.writer import CaptureWriter
from harness.claims.checks import HELD
from harness.claims.coverage import coverage
from harness.claims.verdicts import INCONCLUSIVE, PASS
from harness.testing.runbuilder import RunBuilder
from tests.claims.support import FORM, JSON_CT, claim, judge

ANALYTICS_IN = ("sa.api.intl.miui.com", "13.126.0.1")  # located in India
CLAIMS = "".join([
    claim("no-needle", "no_needle: {classes: [browsing], to: analytics, "
                       "phases: {incognito: true}}"),
    claim("only-when", "only_when: {classes: [browsing], to: sync, "
                       "when: {signed_in: true, sync: true}}"),
    claim("tls", "tls_at_least: {version: TLSv1.2, to: vendor}"),
    claim("no-destination", "no_destination: {operator: Sensors Analytics, about: operator}"),
    claim("not-linkable", "not_linkable: {to: analytics}"),
    claim("residency", "residency: {countries: [IN], to: analytics}"),
    claim("opt-out", "respects_opt_out: {switch: usage_stats, classes: [browsing], "
                     "to: analytics}"),
    claim("encrypted", "encrypted_not_encoded: {classes: [device-id, browsing], "
                       "phases: {incognito: true}}"),
])
KINDS = 8

Breaker = Callable[[RunBuilder], None]


def clean_journey(tmp: Path, breaker: Breaker | None = None) -> RunDir:
    """Four phases, each with its canary page load; analytics with fresh ids and nothing
    planted, history synced only while signed in with sync on, TLS 1.3 to the vendor."""
    b = RunBuilder(tmp, "journey", run_id="r")
    b.needle("android-id", "device-id", "a1b2c3d4e5f60718")
    for name, state in (("normal", {}), ("incognito", {"incognito": True}),
                        ("sync-on", {"signed_in": True, "sync": True}),
                        ("stats-off", {"usage_stats": False})):
        b.phase(name, **state)
        token = b.canary()
        host, ip = ANALYTICS_IN
        b.request(host, "/sa", ip=ip, headers=JSON_CT, body=json.dumps(
            {"distinct_id": os.urandom(8).hex(), "event": "page"}).encode())
        b.request("api.lab.test", "/config", method="GET")
        if name == "sync-on":
            b.request("sync.lab.test", "/history", headers=JSON_CT,
                      body=json.dumps({"visits": [token]}).encode())
    if breaker is not None:
        breaker(b)
    return b.build()


def test_the_clean_run_passes_every_kind(tmp_path: Path) -> None:
    verdicts = judge(tmp_path, CLAIMS, [clean_journey(tmp_path)])
    assert len(verdicts) == KINDS
    for v in verdicts.values():
        assert v.verdict == PASS, (v.claim.id, v.reason)
        assert all(r.status == HELD for r in v.checks)


def _skip_tls_hooks(b: RunBuilder) -> None:
    b.hook("native.tls.libssl.SSL_write", "skipped", "no module exports SSL_write")
    b.hook("native.tls.libssl.SSL_read", "skipped", "no module exports SSL_read")


def _no_required_and_no_tls(b: RunBuilder) -> None:
    b.required_hooks = []
    _skip_tls_hooks(b)


def _gap(b: RunBuilder) -> None:
    b.skip_seqs = {2}


def _gap_run_json_unaware(b: RunBuilder) -> None:
    """The batches table has a hole, but run.json's tally says none (a recorder that died
    before saving it): the gate reads the durable record."""
    b.skip_seqs = {3}
    b.health["sequence_gaps"] = 0


def _control_missing(b: RunBuilder) -> None:
    b.phase("late")
    b.canary(load=False)


def _incomplete(b: RunBuilder) -> None:
    """The journey's incognito and stats-off phases broke off (a failed step): between them
    every claim's phases are touched."""
    for i in (1, 3):
        b.phases[i].phase.complete = False
        b.phases[i].phase.notes.append("step search failed: timeout")


def _coverage(b: RunBuilder) -> None:
    b.kernel_out = 10**9


def _interrupted(b: RunBuilder) -> None:
    b.status = "interrupted"


def _protocol_errors(b: RunBuilder) -> None:
    b.health["protocol_errors"] = 2


def _truncated(b: RunBuilder) -> None:
    """A record bigger than the agent's cap in each phase: its tail was never recorded."""
    for spec in list(b.phases):
        b.resume(spec.phase.name)
        cid = b.connect("api.lab.test")
        body = b"x" * 4096
        b.send(cid, b"POST /big HTTP/1.1\r\nHost: api.lab.test\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body, keep=1024)


def _hook_failed(b: RunBuilder) -> None:
    b.hook("java.okhttp3.RealCall.execute", "failed", "no overload execute() matches")


def _agent_lost(b: RunBuilder) -> None:
    b.health["detached"] = [{"pid": b.pid, "reason": "connection-terminated", "t": b.t0 + 150}]


def _child_lost(b: RunBuilder) -> None:
    b.health["detached"] = [{"pid": b.pid + 1, "t": b.t0 + 150, "reason":
                             f"lost-after-fork: child of pid {b.pid}, killed by signal 11"}]


def _unrequested(b: RunBuilder) -> None:
    b.health["detached"] = [{"pid": b.pid, "t": b.t0 + 150, "reason":
                             "unrequested-detach: Frida reported application-requested"}]


GATES: dict[str, tuple[Breaker, str]] = {
    "required hooks skipped": (_skip_tls_hooks, "no hook of native.tls was installed"),
    "no TLS hook at all": (_no_required_and_no_tls, "no TLS hook was installed"),
    "sequence gap": (_gap, "1 agent batch(es) missing (sequence gaps)"),
    "gap only in capture.sqlite": (_gap_run_json_unaware,
                                   "1 agent batch(es) missing (sequence gaps)"),
    "positive control missing": (_control_missing,
                                 "the page load of canary-url:late was not captured"),
    "incomplete phases": (_incomplete, "did not complete (step search failed: timeout)"),
    "byte coverage under 95%": (_coverage, "the kernel counted leaving"),
    "capture interrupted": (_interrupted, "did not end cleanly (status 'interrupted')"),
    "protocol errors": (_protocol_errors, "2 malformed agent message(s)"),
    "records cut by the capture": (_truncated, "were cut by the capture"),
    "a hook failed": (_hook_failed, "1 hook(s) failed to install (java.okhttp3.RealCall."
                                    "execute); traffic through them would not be seen"),
    "agent lost": (_agent_lost, "the agent lost pid 4242 (connection-terminated)"),
    "child lost at fork": (_child_lost, "the agent lost pid 4243 (lost-after-fork: child of"),
    "unrequested detach": (_unrequested, "the agent lost pid 4242 (unrequested-detach:"),
}


@pytest.mark.parametrize("gate", list(GATES))
def test_each_gate_turns_every_pass_inconclusive(tmp_path: Path, gate: str) -> None:
    breaker, reason = GATES[gate]
    verdicts = judge(tmp_path, CLAIMS, [clean_journey(tmp_path, breaker)])
    assert len(verdicts) == KINDS
    for v in verdicts.values():
        assert v.verdict == INCONCLUSIVE, (v.claim.id, v.verdict, v.reason)
        assert any(reason in g for g in v.gates), (v.claim.id, v.gates)
        assert reason in v.reason
        assert v.evidence == []


def test_incomplete_phase_outside_the_claim_does_not_block_it(tmp_path: Path) -> None:
    """A phase a phase-scoped check did not look at may be incomplete without harm; a check
    over the whole run (TLS) is blocked by it."""
    verdicts = judge(tmp_path, CLAIMS, [clean_journey(tmp_path, _incomplete_stats_off)])
    assert verdicts["no-needle"].verdict == PASS  # looks at incognito only
    assert verdicts["tls"].verdict == INCONCLUSIVE


def _incomplete_stats_off(b: RunBuilder) -> None:
    b.phases[3].phase.complete = False


def test_coverage_at_95_percent_or_more_passes(tmp_path: Path) -> None:
    run = clean_journey(tmp_path)
    info = run.load_info()
    # What the hooked plaintext cost on the wire at least (record headers, handshakes).
    floor = coverage(run, 1).wire_estimate
    assert floor > info.health.bytes_hooked_out
    info.health.bytes_kernel_out = int(floor / 0.96)
    run.save_info(info)
    verdicts = judge(tmp_path, CLAIMS, [run])
    assert {v.verdict for v in verdicts.values()} == {PASS}
    info.health.bytes_kernel_out = int(floor / 0.94)
    run.save_info(info)
    verdicts = judge(tmp_path, CLAIMS, [run])
    assert {v.verdict for v in verdicts.values()} == {INCONCLUSIVE}
    assert "byte coverage 94%" in verdicts["tls"].reason


def test_a_protocol_error_row_is_enough(tmp_path: Path) -> None:
    run = clean_journey(tmp_path)
    with CaptureWriter(run.capture_db) as w:
        w.protocol_error("bad-batch", "truncated payload", b"\x00")
    verdicts = judge(tmp_path, CLAIMS, [run])
    assert all("1 malformed agent message(s)" in v.reason for v in verdicts.values())


def test_a_journey_the_claim_needs_was_not_run(tmp_path: Path) -> None:
    text = claim("needs-two", "tls_at_least: {version: TLSv1.2, to: vendor}",
                 journeys=("journey", "signed-in-sync-on"))
    (v,) = judge(tmp_path, text, [clean_journey(tmp_path)]).values()
    assert v.verdict == INCONCLUSIVE
    assert "journey 'signed-in-sync-on' was not run" in v.reason


def test_every_reason_is_listed(tmp_path: Path) -> None:
    def many(b: RunBuilder) -> None:
        _gap(b)
        _skip_tls_hooks(b)
        _interrupted(b)

    verdicts = judge(tmp_path, CLAIMS, [clean_journey(tmp_path, many)])
    for v in verdicts.values():
        assert len(v.gates) >= 3, v.gates


def test_fail_stands_whatever_the_gates_say(tmp_path: Path) -> None:
    """A violation seen is a violation: gates only ever block a PASS."""
    def leak(b: RunBuilder) -> None:
        _gap(b)
        b.phase("incognito-2", incognito=True)
        token = b.canary()
        b.request("sa.api.intl.miui.com", "/sa", ip="13.126.0.1", headers=FORM,
                  body=f"u={token}".encode())

    verdicts = judge(tmp_path, CLAIMS, [clean_journey(tmp_path, leak)])
    assert verdicts["no-needle"].verdict == "FAIL"
    assert verdicts["tls"].verdict == INCONCLUSIVE


def test_a_teardown_that_lost_the_final_flush_blocks_a_pass(tmp_path: Path) -> None:
    def lost_flush(b: RunBuilder) -> None:
        b.health["detached"] = [{"pid": b.pid, "t": b.t0 + 150, "reason":
                                 "teardown-timeout: flush did not return in 20 s; process killed"}]

    def after_flush(b: RunBuilder) -> None:
        b.health["detached"] = [{"pid": b.pid, "t": b.t0 + 150, "reason":
                                 "teardown-timeout-after-flush: detach did not return in 20 s; "
                                 "process killed"}]

    lost = judge(tmp_path / "lost", CLAIMS, [clean_journey(tmp_path / "lost", lost_flush)])
    assert {v.verdict for v in lost.values()} == {INCONCLUSIVE}
    assert "the agent lost pid 4242 (teardown-timeout" in lost["tls"].reason
    kept = judge(tmp_path / "kept", CLAIMS, [clean_journey(tmp_path / "kept", after_flush)])
    assert {v.verdict for v in kept.values()} == {PASS}

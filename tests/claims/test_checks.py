"""Each of the eight checks, over real run dirs analysed by the real pipeline: a run that meets
the claim (PASS, the gates holding) and a run that breaks it (FAIL, citing findings or
messages that exist in the run)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from harness.capture.rundir import RunDir
from harness.claims.checks import HELD, VIOLATED
from harness.claims.verdicts import FAIL, PASS
from harness.testing.runbuilder import RunBuilder
from tests.claims.support import (
    ANALYTICS,
    FORM,
    JSON_CT,
    assert_evidence_in_runs,
    claim,
    judge,
    sensors_form,
)

DEVICE_ID = "a1b2c3d4e5f60718"


def two_phases(tmp: Path, *, run_id: str = "r") -> tuple[RunBuilder, str, str]:
    """A journey with a normal and an incognito phase, each with its canary page load (the
    positive control); returns the builder in the incognito phase and both canary tokens."""
    b = RunBuilder(tmp, "journey", run_id=run_id)
    b.needle("android-id", "device-id", DEVICE_ID)
    b.phase("normal")
    normal = b.canary()
    b.phase("incognito", incognito=True)
    incog = b.canary()
    return b, normal, incog


def expect_pass(tmp: Path, text: str, run: RunDir) -> None:
    v = judge(tmp, text, [run])["c"]
    assert v.verdict == PASS, v.reason
    assert [r.status for r in v.checks] == [HELD]
    assert v.evidence == []


def expect_fail(tmp: Path, text: str, run: RunDir) -> list[str]:
    v = judge(tmp, text, [run])["c"]
    assert v.verdict == FAIL, v.reason
    assert [r.status for r in v.checks] == [VIOLATED]
    assert_evidence_in_runs(v, [run])
    return v.evidence


# --- no_needle ----------------------------------------------------------------------------

NO_NEEDLE = claim("c", "no_needle: {classes: [browsing], to: analytics, "
                       "phases: {incognito: true}}")


def test_no_needle_met(tmp_path: Path) -> None:
    b, _, _ = two_phases(tmp_path)
    b.request(ANALYTICS, "/sa", body=sensors_form([{"event": "launch"}]), headers=FORM)
    expect_pass(tmp_path, NO_NEEDLE, b.build())


def test_no_needle_broken(tmp_path: Path) -> None:
    b, _, incog = two_phases(tmp_path)
    b.request(ANALYTICS, "/sa", body=sensors_form(
        [{"event": "page", "properties": {"url": f"https://canary.lab.test/c/{incog}"}}]),
        headers=FORM)
    run = b.build()
    (ref,) = expect_fail(tmp_path, NO_NEEDLE, run)
    finding = next(f for f in json.loads(run.file("findings.json").read_text())
                   if f["id"] == ref.split("/")[1])
    assert finding["needle"] == "canary-url:incognito"
    assert finding["chain"][-1] == "json:$[0].properties.url"


def test_no_needle_ignores_other_phases(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path, "journey", run_id="r")
    b.phase("normal")
    normal = b.canary()
    b.request(ANALYTICS, "/sa", body=json.dumps({"url": normal}).encode(), headers=JSON_CT)
    b.phase("incognito", incognito=True)
    b.canary()
    expect_pass(tmp_path, NO_NEEDLE, b.build())


# --- only_when ----------------------------------------------------------------------------

ONLY_WHEN = claim("c", "only_when: {classes: [browsing], to: sync, "
                       "when: {signed_in: true, sync: true}}")


def sync_journey(tmp: Path, leak_signed_out: bool) -> RunDir:
    b = RunBuilder(tmp, "journey", run_id="r")
    b.phase("signed-in-sync", signed_in=True, sync=True)
    token = b.canary()
    b.request("sync.lab.test", "/history", body=json.dumps({"visits": [token]}).encode(),
              headers=JSON_CT)
    b.phase("signed-out")
    out = b.canary()
    b.request("sync.lab.test", "/history",
              body=json.dumps({"visits": [out] if leak_signed_out else []}).encode(),
              headers=JSON_CT)
    return b.build()


def test_only_when_met(tmp_path: Path) -> None:
    expect_pass(tmp_path, ONLY_WHEN, sync_journey(tmp_path, leak_signed_out=False))


def test_only_when_broken(tmp_path: Path) -> None:
    run = sync_journey(tmp_path, leak_signed_out=True)
    (ref,) = expect_fail(tmp_path, ONLY_WHEN, run)
    f = next(x for x in json.loads(run.file("findings.json").read_text())
             if x["id"] == ref.split("/")[1])
    assert (f["phase"], f["host"]) == ("signed-out", "sync.lab.test")


# --- tls_at_least -------------------------------------------------------------------------

TLS = claim("c", "tls_at_least: {version: TLSv1.2, to: vendor}")


def test_tls_at_least_met(tmp_path: Path) -> None:
    b, _, _ = two_phases(tmp_path)
    b.request(ANALYTICS, "/sa", body=b"x=1", headers=FORM, tls="TLSv1.2")
    b.request("api.lab.test", "/config", method="GET", tls="TLSv1.3")
    expect_pass(tmp_path, TLS, b.build())


def test_tls_at_least_broken_by_old_tls_and_plaintext(tmp_path: Path) -> None:
    b, _, _ = two_phases(tmp_path)
    b.request(ANALYTICS, "/sa", body=b"x=1", headers=FORM, tls="TLSv1.3")
    b.request("api.lab.test", "/config", method="GET", tls="TLSv1.1")
    b.request("update.lab.test", "/check", method="GET", tls=None, port=80)
    run = b.build()
    refs = expect_fail(tmp_path, TLS, run)
    assert len(refs) == 2
    from harness.parse.storeread import MessageStore

    with MessageStore.open(run) as store:
        bad = {(store.get(r.split("/")[1]).host, store.get(r.split("/")[1]).source)
               for r in refs}
    assert bad == {("api.lab.test", "native.tls"), ("update.lab.test", "native.tcp")}


def test_tls_at_least_broken_by_a_java_http_url(tmp_path: Path) -> None:
    """A plain http:// request seen only by a Java HTTP stack hook (no TLS connection)."""
    b, _, _ = two_phases(tmp_path)
    b.request(ANALYTICS, "/sa", body=b"x=1", headers=FORM)
    b.java_request("http://update.lab.test/check?v=1", method="GET")
    run = b.build()
    (ref,) = expect_fail(tmp_path, TLS, run)
    from harness.parse.storeread import MessageStore

    with MessageStore.open(run) as store:
        m = store.get(ref.split("/")[1])
    assert (m.url, m.source) == ("http://update.lab.test/check?v=1", "java.urlconnection")


def test_tls_at_least_is_not_blocked_by_sdk_calls(tmp_path: Path) -> None:
    """An analytics SDK call is a call inside the app, not traffic: it has no TLS version
    and does not make the check unknown."""
    b, _, _ = two_phases(tmp_path)
    b.sdk_call("sensorsdata", "track", "page", {"url": "x"})
    b.request(ANALYTICS, "/sa", body=b"x=1", headers=FORM, tls="TLSv1.2")
    expect_pass(tmp_path, claim("c", "tls_at_least: {version: TLSv1.2, to: analytics}"),
                b.build())


# --- no_destination -----------------------------------------------------------------------

NO_SENSORS_OPERATOR = claim("c", "no_destination: {operator: Sensors Analytics, "
                                 "about: operator}")
NO_SENSORS_SDK = claim("c", "no_destination: {sdk: Sensors Analytics, about: sdk}")


def sensors_upload(tmp: Path, host: str, ip: str = "127.0.0.1") -> RunDir:
    b, _, _ = two_phases(tmp)
    b.request(host, "/sa?project=x", ip=ip, headers=FORM, body=sensors_form(
        [{"event": "launch", "properties": {"$device_id": DEVICE_ID}}]))
    return b.build()


def test_no_destination_operator_met_but_sdk_named(tmp_path: Path) -> None:
    """The lab's own analytics host receives a payload built by the Sensors SDK: the claim
    about the operator holds, and the reason says who built the payload."""
    run = sensors_upload(tmp_path, ANALYTICS)
    v = judge(tmp_path, NO_SENSORS_OPERATOR, [run])["c"]
    assert v.verdict == PASS, v.reason
    assert "Sensors Analytics SDK" in v.reason
    assert ANALYTICS in v.reason


def test_no_destination_operator_broken(tmp_path: Path) -> None:
    run = sensors_upload(tmp_path, "sdk.sensorsdata.cn", ip="8.8.8.8")
    expect_fail(tmp_path, NO_SENSORS_OPERATOR, run)


def test_no_destination_sdk_broken_and_met(tmp_path: Path) -> None:
    run = sensors_upload(tmp_path, ANALYTICS)
    expect_fail(tmp_path, NO_SENSORS_SDK, run)
    b, _, _ = two_phases(tmp_path / "other")
    b.request(ANALYTICS, "/sa", body=json.dumps({"event": "launch"}).encode(), headers=JSON_CT)
    expect_pass(tmp_path, NO_SENSORS_SDK, b.build())


def test_no_destination_domain_means_the_domain_and_names_under_it(tmp_path: Path) -> None:
    text = claim("c", "no_destination: {domain: miui.com, about: domain}")
    b, _, _ = two_phases(tmp_path / "a")
    b.request("notmiui.com", "/x", ip="8.8.8.8", method="GET")
    expect_pass(tmp_path, text, b.build())
    b, _, _ = two_phases(tmp_path / "b")
    b.request("sa.api.intl.miui.com", "/sa", ip="47.74.128.1", body=b"e=1", headers=FORM)
    (ref,) = expect_fail(tmp_path, text, b.build())
    assert ref.split("/")[1].startswith("m")


# --- not_linkable -------------------------------------------------------------------------

NOT_LINKABLE = claim("c", "not_linkable: {to: analytics}")


def test_not_linkable_met_with_fresh_ids(tmp_path: Path) -> None:
    b = RunBuilder(tmp_path, "journey", run_id="r")
    b.needle("android-id", "device-id", DEVICE_ID)
    for name, anon in (("normal", False), ("incognito", True)):
        b.phase(name, incognito=anon)
        b.canary()
        b.request(ANALYTICS, "/sa", headers=JSON_CT, body=json.dumps(
            {"distinct_id": os.urandom(8).hex(), "event": "launch"}).encode())
    expect_pass(tmp_path, NOT_LINKABLE, b.build())


@pytest.mark.parametrize("stable", ["distinct_id", "device_id"])
def test_not_linkable_broken_by_a_stable_id(tmp_path: Path, stable: str) -> None:
    b = RunBuilder(tmp_path, "journey", run_id="r")
    b.needle("android-id", "device-id", DEVICE_ID)
    same = os.urandom(8).hex()
    for name, anon in (("normal", False), ("incognito", True)):
        b.phase(name, incognito=anon)
        b.canary()
        payload = {"distinct_id": same} if stable == "distinct_id" else {"dev": DEVICE_ID}
        b.request(ANALYTICS, "/sa", headers=JSON_CT, body=json.dumps(payload).encode())
    run = b.build()
    refs = expect_fail(tmp_path, NOT_LINKABLE, run)
    assert len(refs) == 2  # one in each phase it links


def test_not_linkable_broken_across_runs(tmp_path: Path) -> None:
    """Two journeys, each from a fresh app state, send the same id in a phase of the same
    name: the id links the two sessions."""
    same = os.urandom(8).hex()
    runs = []
    for journey in ("first", "second"):
        b = RunBuilder(tmp_path, journey, run_id=journey)
        b.phase("normal")
        b.canary()
        b.request(ANALYTICS, "/sa", headers=JSON_CT,
                  body=json.dumps({"distinct_id": same}).encode())
        runs.append(b.build())
    text = claim("c", "not_linkable: {to: analytics}", journeys=("first", "second"))
    v = judge(tmp_path, text, runs)["c"]
    assert v.verdict == FAIL, v.reason
    assert "first:normal" in v.reason
    assert "second:normal" in v.reason
    assert_evidence_in_runs(v, runs)


# --- residency ----------------------------------------------------------------------------

RESIDENCY = claim("c", "residency: {countries: [IN], to: analytics}")


def analytics_at(tmp: Path, ip: str) -> RunDir:
    b, _, _ = two_phases(tmp)
    b.request("sa.api.intl.miui.com", "/sa", ip=ip, body=b"e=1", headers=FORM)
    return b.build()


def test_residency_met(tmp_path: Path) -> None:
    expect_pass(tmp_path, RESIDENCY, analytics_at(tmp_path, "13.126.0.1"))  # Mumbai


def test_residency_broken(tmp_path: Path) -> None:
    run = analytics_at(tmp_path, "47.74.128.1")  # Singapore
    (ref,) = expect_fail(tmp_path, RESIDENCY, run)
    assert ref.split("/")[1].startswith("m")


# --- respects_opt_out ---------------------------------------------------------------------

OPT_OUT = claim("c", "respects_opt_out: {switch: usage_stats, classes: [browsing], "
                     "to: analytics}")


def stats_switch(tmp: Path, leak_when_off: bool) -> RunDir:
    b = RunBuilder(tmp, "journey", run_id="r")
    b.phase("stats-on")
    on = b.canary()
    b.request(ANALYTICS, "/sa", body=sensors_form([{"properties": {"url": on}}]), headers=FORM)
    b.phase("stats-off", usage_stats=False)
    off = b.canary()
    if leak_when_off:
        b.request(ANALYTICS, "/sa", body=sensors_form([{"properties": {"url": off}}]),
                  headers=FORM)
    else:
        b.request("www.lab.test", "/page", method="GET")
    return b.build()


def test_respects_opt_out_met(tmp_path: Path) -> None:
    expect_pass(tmp_path, OPT_OUT, stats_switch(tmp_path, leak_when_off=False))


def test_respects_opt_out_broken(tmp_path: Path) -> None:
    run = stats_switch(tmp_path, leak_when_off=True)
    (ref,) = expect_fail(tmp_path, OPT_OUT, run)
    f = next(x for x in json.loads(run.file("findings.json").read_text())
             if x["id"] == ref.split("/")[1])
    assert f["phase"] == "stats-off"


# --- encrypted_not_encoded ----------------------------------------------------------------

ENCRYPTED = claim("c", "encrypted_not_encoded: {classes: [device-id, browsing], "
                       "phases: {incognito: true}}")


def test_encrypted_not_encoded_met_by_a_real_cipher(tmp_path: Path) -> None:
    """The app encrypts with AES-GCM before encoding: the Java hooks saw the cipher call, so
    the value is found — through a key, which is what "encrypted" means."""
    b, _, incog = two_phases(tmp_path)
    plain = json.dumps({"device_id": DEVICE_ID, "url": incog}).encode()
    key, nonce = AESGCM.generate_key(bit_length=128), os.urandom(12)
    sealed = nonce + AESGCM(key).encrypt(nonce, plain, None)
    text = base64.b64encode(sealed)
    b.transform("cipher.doFinal", "AES/GCM/NoPadding", plain, sealed)
    b.transform("encode", "base64", sealed, text)
    b.request(ANALYTICS, "/sa", body=b"data=" + text.replace(b"+", b"%2B").replace(b"/", b"%2F")
              .replace(b"=", b"%3D"), headers=FORM)
    run = b.build()
    findings = [f for f in json.loads(run.file("findings.json").read_text())
                if not f["control"]]
    assert findings, "the detector followed the recorded cipher call"
    assert all(any(s.startswith("cipher:AES") for s in f["chain"]) for f in findings)
    expect_pass(tmp_path, ENCRYPTED, run)


def test_encrypted_not_encoded_broken_by_gzip_base64(tmp_path: Path) -> None:
    b, _, incog = two_phases(tmp_path)
    b.request(ANALYTICS, "/sa", headers=FORM, body=sensors_form(
        [{"properties": {"$device_id": DEVICE_ID, "url": incog}}]))
    run = b.build()
    refs = expect_fail(tmp_path, ENCRYPTED, run)
    assert len(refs) == 2


@pytest.mark.timeout(60)  # re.search took exponential time on the pattern below
def test_a_host_scope_is_searched_in_linear_time(tmp_path: Path) -> None:
    """``to: host:REGEX`` scopes a check to the hosts the pattern finds (re.search
    semantics); Hyperscan matches it, so a pattern with nested repeats and a long captured
    host cannot hang the verdicts."""
    b, _, _ = two_phases(tmp_path)
    b.request("sa.api.lab.test", "/sa", body=b'{"id":"%s"}' % DEVICE_ID.encode(),
              headers=JSON_CT)
    b.request("a" * 60 + ".lab.test", "/x", body=b'{"n":"%s"}' % DEVICE_ID.encode(),
              headers=JSON_CT)
    run = b.build()
    sa = judge(tmp_path, claim("c", "no_needle: {classes: [device-id], to: 'host:^sa\\.'}"),
               [run])["c"]
    assert sa.verdict == FAIL, sa.reason
    assert_evidence_in_runs(sa, [run])
    assert len(sa.evidence) == 1  # the sa host's finding, not the other host's
    expect_pass(tmp_path, claim("c", "no_needle: {classes: [device-id], to: 'host:^other\\.'}"),
                run)
    expect_pass(tmp_path, claim("c", "no_needle: {classes: [device-id], to: 'host:^(a+)+$'}"),
                run)


def test_two_runs_with_one_run_id_are_refused(tmp_path: Path) -> None:
    """Evidence cites RUN_ID/f12: a run dir copied into a suite would make it ambiguous."""
    from harness.errors import InputError

    runs = []
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        b, _, _ = two_phases(tmp_path / d, run_id="same")
        runs.append(b.build())
    with pytest.raises(InputError, match="two runs have the run id 'same'") as info:
        judge(tmp_path, NO_NEEDLE, runs)
    assert info.value.field == "run_id"

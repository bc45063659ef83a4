"""Helpers for the claims tests: a claims file written at test time, verdicts over real runs,
and the rule that every piece of FAIL evidence names a finding or message of the run."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.claims.evidence import load_facts
from harness.claims.model import load_claims
from harness.claims.verdicts import Verdict, evaluate
from harness.detect.decoders import java_hash
from harness.parse.storeread import MessageStore

HEADER = "vendor: Lab\nvendor_domains: [lab.test]\nclaims:\n"
ANALYTICS = "sa.api.lab.test"


def claim(cid: str, check: str, journeys: Sequence[str] = ("journey",)) -> str:
    """One claim of a claims file (YAML text) with a single check written inline."""
    return (f"  - id: {cid}\n    quote: The vendor says {cid}.\n"
            f"    source: {{file: seeds/test.txt, date: 2020-05-02, by: test}}\n"
            f"    journeys: [{', '.join(journeys)}]\n    checks:\n      - {check}\n")


def judge(tmp: Path, claims: str, runs: Sequence[RunDir]) -> dict[str, Verdict]:
    path = tmp / "claims.yaml"
    path.write_text(HEADER + claims, encoding="utf-8")
    verdicts = evaluate(load_claims(path), [load_facts(r) for r in runs])
    return {v.claim.id: v for v in verdicts}


def assert_evidence_in_runs(v: Verdict, runs: Sequence[RunDir]) -> None:
    """FAIL cites ``run-id/f<N>`` or ``run-id/m<N>`` that exist in that run."""
    assert v.evidence, v.reason
    by_rid = {r.load_info().run_id: r for r in runs}
    for ref in v.evidence:
        rid, _, item = ref.partition("/")
        assert rid in by_rid, ref
        run = by_rid[rid]
        if item.startswith("f"):
            ids = {f["id"] for f in json.loads(run.file("findings.json").read_text())}
            assert item in ids, ref
        else:
            with MessageStore.open(run) as store:
                assert store.get(item).id == item


def sensors_form(events: list[dict[str, object]]) -> bytes:
    """A Sensors Analytics upload body as its SDK builds it: gzip, base64, crc, form."""
    data = base64.b64encode(gzip.compress(json.dumps(events).encode())).decode()
    return (f"crc={java_hash(data)}&gzip=1&data_list="
            + urllib.parse.quote(data, safe="")).encode()


FORM = (("Content-Type", "application/x-www-form-urlencoded"),)
JSON_CT = (("Content-Type", "application/json"),)

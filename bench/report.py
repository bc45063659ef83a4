"""Report at scale: a run of 100,000 messages and 5,000 findings, rendered and opened.

Builds a real run dir with :class:`harness.testing.runbuilder.RunBuilder` (HTTP/1.1 requests
over keep-alive TLS connections to a few hundred hosts across seven phases; one request in
twenty carries a device id in a gzip+base64 analytics payload, so the real detector finds
5,000 values), analyses it with the real pipeline, checks a claims file with one claim of
each check kind, then times what the issue targets:

- render: ``harness report RUN_DIR`` as a library call (load the run's facts, build the view
  model, render report.html, junit.xml and summary.json) — target < 10 s;
- load: Debian's headless Chromium (Playwright) from navigation to the verdict table being
  visible — target < 2 s;
- the size of report.html — target < 50 MB.

    python bench/report.py --dir /tmp/report-bench [--messages 100000 --findings 5000]
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import os
import shutil
import time
from pathlib import Path

from harness.analysis import analyze_run
from harness.claims.evidence import load_facts
from harness.claims.model import load_claims
from harness.claims.verdicts import evaluate
from harness.report.publish import report_folder
from harness.testing.runbuilder import RunBuilder

PHASES = (("normal", {}), ("incognito", {"incognito": True}),
          ("signed-in", {"signed_in": True}), ("sync-on", {"signed_in": True, "sync": True}),
          ("stats-off", {"usage_stats": False}), ("restart", {}),
          ("incognito-2", {"incognito": True}))
HOSTS = 300
PER_CONN = 50
DEVICE_ID = "a1b2c3d4e5f60718"
CLAIMS = """\
vendor: Bench
vendor_domains: [bench.test]
claims:
  - id: no-needle
    quote: Nothing you do in incognito is sent to us.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{no_needle: {classes: [device-id], to: all, phases: {incognito: true}}}]
  - id: only-when
    quote: History is synced only when you sign in and turn sync on.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{only_when: {classes: [browsing], to: sync, when: {signed_in: true, sync: true}}}]
  - id: tls
    quote: TLS 1.2 or newer.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{tls_at_least: {version: TLSv1.2, to: all}}]
  - id: no-destination
    quote: We do not pass data to Sensors Analytics.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{no_destination: {operator: Sensors Analytics, about: operator}}]
  - id: not-linkable
    quote: Identifiers are random and reset.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{not_linkable: {to: analytics}}]
  - id: residency
    quote: Data stays in India.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{residency: {countries: [IN], to: analytics}}]
  - id: opt-out
    quote: Turning statistics off stops them.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{respects_opt_out: {switch: usage_stats, classes: [device-id], to: all}}]
  - id: encrypted
    quote: The data is encrypted.
    source: {file: bench, date: 2026-11-22}
    journeys: [bench]
    checks: [{encrypted_not_encoded: {classes: [device-id]}}]
"""


def build(parent: Path, messages: int, findings: int) -> Path:
    b = RunBuilder(parent, "bench", run_id="bench-run")
    b.needle("android-id", "device-id", DEVICE_ID)
    per_phase = messages // len(PHASES)
    every = max(1, messages // findings)
    n = 0
    for name, state in PHASES:
        b.phase(name, **state)
        b.canary()
        n += 1
        conns: list[tuple[str, str]] = []
        for i in range(per_phase - 1):
            if i % PER_CONN == 0:
                host = (f"sa.api{(n // PER_CONN) % 4}.bench.test" if (n // PER_CONN) % 5 == 0
                        else f"h{(n // PER_CONN) % HOSTS}.cdn{(n // PER_CONN) % 37}.example")
                conns = [(host, b.connect(host, ip=f"13.126.{(n // 250) % 250}.{n % 250}"))]
            host, cid = conns[0]
            if n % every == 0:
                payload = base64.b64encode(gzip.compress(json.dumps(
                    [{"event": "page", "properties": {"$device_id": DEVICE_ID,
                                                      "distinct_id": os.urandom(6).hex()}}])
                    .encode())).decode()
                b.request(host, f"/sa?project=bench&n={n}", conn=cid, response=None,
                          headers=(("Content-Type", "application/x-www-form-urlencoded"),
                                   ("Cookie", "sid=bench")),
                          body=f"gzip=1&data_list={payload}".encode())
            else:
                b.request(host, f"/asset/{n}.js?v={n % 97}", method="GET", conn=cid,
                          response=None, headers=(("Accept", "*/*"),))
            n += 1
    return b.build(analyze=False).path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/report-bench"))
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--findings", type=int, default=5_000)
    ap.add_argument("--keep", action="store_true", help="reuse an analysed run in --dir")
    args = ap.parse_args()
    run_path = args.dir / "bench-run"
    if not (args.keep and (run_path / "verdicts.json").is_file()):
        shutil.rmtree(args.dir, ignore_errors=True)
        args.dir.mkdir(parents=True)
        t = time.perf_counter()
        build(args.dir, args.messages, args.findings)
        print(f"build run dir:  {time.perf_counter() - t:6.1f} s")
        t = time.perf_counter()
        result = analyze_run(run_path)
        print(f"analyse:        {time.perf_counter() - t:6.1f} s  ({result.messages} messages, "
              f"{len(result.leaks)} findings, {len(result.controls)} positive controls)")
        t = time.perf_counter()
        claims_path = args.dir / "claims.yaml"
        claims_path.write_text(CLAIMS, encoding="utf-8")
        verdicts = evaluate(load_claims(claims_path), [load_facts(run_path)])
        (run_path / "verdicts.json").write_text(
            json.dumps([v.to_json() for v in verdicts], indent=2), encoding="utf-8")
        print(f"check claims:   {time.perf_counter() - t:6.1f} s  ("
              + ", ".join(f"{v.claim.id} {v.verdict}" for v in verdicts) + ")")
    t = time.perf_counter()
    html = report_folder(run_path)
    render = time.perf_counter() - t
    size = html.stat().st_size
    print(f"render report:  {render:6.1f} s  (target < 10 s)")
    print(f"report.html:    {size / 1e6:6.1f} MB (target < 50 MB)")
    load, visible = open_in_chromium(html)
    print(f"chromium load:  {load:6.2f} s to the verdict table visible (target < 2 s); "
          f"{visible} verdict rows")


def open_in_chromium(html: Path) -> tuple[float, int]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    chromium_sandbox=False, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            t = time.perf_counter()
            page.goto(html.resolve().as_uri(), wait_until="commit", timeout=120_000)
            table = page.locator("#summary + table")
            table.wait_for(state="visible", timeout=120_000)
            load = time.perf_counter() - t
            rows = table.locator("tbody tr").count()
        finally:
            browser.close()
    return load, rows


if __name__ == "__main__":
    main()

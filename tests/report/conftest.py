"""One hostile analysed run for the report tests, made and reported through the real CLI.

The app's analytics request carries the incognito canary next to markup and script URLs in
its URL, headers and body, and secrets (a cookie, a bearer token, a password field) the
report must mask by default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.capture.rundir import RunDir
from harness.testing.runbuilder import RunBuilder

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
HOSTILE = (SCRIPT, IMG, JS_URL)
HOSTILE_HOST = "x\"><svg/onload=alert(2)>.lab.test"
COOKIE = "sid=SECRETCOOKIE7731"
BEARER = "Bearer SECRETTOKEN4412"
PASSWORD = "hunter2secret"
URL_TOKEN = "SECRETURLTOKEN99"
SECRETS = ("SECRETCOOKIE7731", "SECRETTOKEN4412", PASSWORD, URL_TOKEN)

CLAIMS = """\
vendor: Lab
vendor_domains: [lab.test]
claims:
  - id: incognito-stays-private
    quote: Nothing you do in incognito is sent to us. <script>alert("quote")</script>
    source: {file: seeds/test.txt, date: 2020-05-02, by: test}
    journeys: [hostile]
    checks:
      - no_needle: {classes: [browsing], to: vendor-or-analytics, phases: {incognito: true}}
  - id: tls-everywhere
    quote: We use TLS 1.2 or newer.
    source: {file: seeds/test.txt, date: 2020-05-02, by: test}
    journeys: [hostile]
    checks:
      - tls_at_least: {version: TLSv1.2, to: vendor}
  - id: data-in-india
    quote: Data of Indian users stays in India.
    source: {file: seeds/test.txt, date: 2020-05-02, by: test}
    journeys: [hostile]
    checks:
      - residency: {countries: [IN], to: analytics}
"""


def harness_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                          text=True, timeout=300, cwd=cwd, env=env, check=False)


@dataclass(frozen=True)
class Reported:
    run: RunDir
    claims: Path
    analyze: subprocess.CompletedProcess[str]
    report: subprocess.CompletedProcess[str]

    @property
    def html(self) -> Path:
        return self.run.path / "report.html"


def hostile_run(parent: Path) -> RunDir:
    b = RunBuilder(parent, "hostile", run_id="hostile-run")
    b.needle("android-id", "device-id", "a1b2c3d4e5f60718")
    b.phase("normal")
    b.canary()
    b.phase("incognito", incognito=True)
    token = b.canary()
    # the canary sits next to each secret too, so excerpts around it would show them
    b.request("sa.api.lab.test", f"/sa?q={SCRIPT}&next={JS_URL}&u={token}"
              f"&access_token={URL_TOKEN}", headers=(
        ("Content-Type", "application/x-www-form-urlencoded"), ("X-Title", IMG),
        ("Referer", JS_URL), ("Cookie", f"{COOKIE}; last={token}"),
        ("Authorization", BEARER)),
        body=f"user=bob&password={PASSWORD}&note={IMG}&url={token}".encode())
    b.request("api.lab.test", "/config", method="GET", tls="TLSv1.3")
    b.request(HOSTILE_HOST, "/x", method="GET", tls="TLSv1.3")  # a name from the wire
    return b.build(analyze=False)


@pytest.fixture(scope="package")
def reported(tmp_path_factory: pytest.TempPathFactory) -> Reported:
    root = tmp_path_factory.mktemp("report")
    run = hostile_run(root)
    claims = root / "claims.yaml"
    claims.write_text(CLAIMS, encoding="utf-8")
    analyze = harness_cli("analyze", str(run.path), "--claims", str(claims))
    report = harness_cli("report", str(run.path))
    assert report.returncode == 0, report.stderr
    return Reported(run, claims, analyze, report)


def verdicts_of(run: RunDir) -> list[dict[str, object]]:
    data = json.loads(run.file("verdicts.json").read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return data

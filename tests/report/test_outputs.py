"""What a report folder holds besides the page: secrets masked unless asked, junit.xml with one
case per claim, the JSON summary, and the exit codes of DESIGN.md — all through the CLI."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.claims.verdicts import exit_code_of
from harness.errors import ExitCode
from tests.report.conftest import (
    BEARER,
    COOKIE,
    PASSWORD,
    SECRETS,
    URL_TOKEN,
    Reported,
    harness_cli,
    verdicts_of,
)


def test_secrets_are_masked_by_default(reported: Reported) -> None:
    for name in ("report.html", "summary.json", "junit.xml", "verdicts.json"):
        text = reported.run.file(name).read_text(encoding="utf-8")
        for secret in SECRETS:
            assert secret not in text, (name, secret)
    html = reported.html.read_text(encoding="utf-8")
    assert "Cookie: •••• (hidden; --no-redact shows it)" in html
    assert "Authorization: •••• (hidden; --no-redact shows it)" in html
    assert f"password=•••• ({len(PASSWORD)} chars hidden)" in html
    assert "user=bob" in html  # only secret fields are masked, not the whole body


def test_no_redact_shows_them(reported: Reported, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(reported.run.path, tmp_path / "run"))
    done = harness_cli("report", str(copy), "--no-redact")
    assert done.returncode == 0, done.stderr
    html = (copy / "report.html").read_text(encoding="utf-8")
    assert f"Cookie: {COOKIE}" in html
    assert f"Authorization: {BEARER}" in html
    assert f"password={PASSWORD}" in html
    assert URL_TOKEN in html
    assert "Not redacted." in html


def test_junit_one_case_per_claim(reported: Reported) -> None:
    root = ET.parse(reported.run.file("junit.xml")).getroot()
    verdicts = {str(v["claim"]): v for v in verdicts_of(reported.run)}
    assert root.tag == "testsuite"
    cases = root.findall("testcase")
    assert sorted(c.get("name") or "" for c in cases) == sorted(verdicts)
    assert root.get("tests") == str(len(verdicts))
    assert root.get("failures") == "1"
    assert root.get("skipped") == "1"
    for case in cases:
        v = verdicts[case.get("name") or ""]
        failure, skipped = case.find("failure"), case.find("skipped")
        if v["verdict"] == "FAIL":
            assert failure is not None
            assert skipped is None
            assert failure.get("message") == str(v["reason"])[:500]
            evidence = v["evidence"]
            assert isinstance(evidence, list)
            assert evidence
            assert all(str(e) in (failure.text or "") for e in evidence)
        elif v["verdict"] == "INCONCLUSIVE":
            assert failure is None
            assert skipped is not None
            assert "not a country" in (skipped.get("message") or "")
        else:
            assert failure is None
            assert skipped is None


def test_summary_json(reported: Reported) -> None:
    data = json.loads(reported.run.file("summary.json").read_text(encoding="utf-8"))
    verdicts = verdicts_of(reported.run)
    assert data["counts"] == {"FAIL": 1, "PASS": 1, "INCONCLUSIVE": 1}
    assert [(v["claim"], v["verdict"]) for v in data["verdicts"]] == \
        [(v["claim"], v["verdict"]) for v in verdicts]
    assert all(v["why"] for v in data["verdicts"])
    (health,) = data["health"]
    assert (health["gaps"], health["journey"]) == (0, "hostile")
    (run,) = data["runs"]
    assert run["run"] == "hostile-run"


def test_exit_codes(reported: Reported, tmp_path: Path) -> None:
    # a claim failed: 1 (the fixture's `harness analyze --claims`)
    assert reported.analyze.returncode == ExitCode.CLAIM_FAILED, reported.analyze.stderr
    assert exit_code_of(reported.run) == ExitCode.CLAIM_FAILED
    copy = Path(shutil.copytree(reported.run.path, tmp_path / "run"))
    pass_only = only(reported.claims, "tls-everywhere")
    inconclusive = only(reported.claims, "tls-everywhere", "data-in-india")
    for text, code in ((pass_only, ExitCode.OK), (inconclusive, ExitCode.INCONCLUSIVE)):
        path = tmp_path / "claims.yaml"
        path.write_text(text, encoding="utf-8")
        done = harness_cli("analyze", str(copy), "--claims", str(path))
        assert done.returncode == code, (code, done.stdout, done.stderr)
    # a broken claims file: 2, naming file, line and column
    broken = tmp_path / "broken.yaml"
    broken.write_text(pass_only.replace("tls_at_least", "tls_atleast"), encoding="utf-8")
    done = harness_cli("analyze", str(copy), "--claims", str(broken))
    assert done.returncode == ExitCode.BAD_INPUT
    assert f"{broken}:9:9: unknown check 'tls_atleast'" in done.stderr
    # not a run dir: 2
    done = harness_cli("report", str(tmp_path / "nothing"))
    assert done.returncode == ExitCode.BAD_INPUT
    assert "not a run directory" in done.stderr


def only(claims: Path, *ids: str) -> str:
    """The claims file with only the named claims."""
    head, *items = claims.read_text(encoding="utf-8").split("  - id: ")
    return head + "".join(f"  - id: {c}" for c in items if c.split("\n")[0] in ids)


def test_junit_carries_what_xml_cannot_as_escapes(tmp_path: Path) -> None:
    """A captured id with control characters lands in a verdict's reason; XML 1.0 cannot
    carry them even as &#1;, and junit.xml stopped parsing in every CI."""
    from harness.report.render import write_junit

    bad = "id \x01\x0b\x1f\ufffe\ud83d end"
    verdicts = [{"claim": "c" + bad, "verdict": "FAIL", "reason": bad, "quote": bad,
                 "evidence": [bad]},
                {"claim": "d", "verdict": "INCONCLUSIVE", "reason": bad, "quote": "q"}]
    root = ET.parse(write_junit(verdicts, tmp_path / "junit.xml", "suite\x02")).getroot()
    shown = "id \\u0001\\u000b\\u001f\\ufffe\\ud83d end"
    assert root.get("name") == "suite\\u0002"
    fail, skip = root.findall("testcase")
    assert fail.get("name") == "c" + shown
    assert fail.find("failure").get("message") == shown  # type: ignore[union-attr]
    assert fail.find("failure").text == "evidence: " + shown  # type: ignore[union-attr]
    assert fail.find("system-out").text == shown  # type: ignore[union-attr]
    assert skip.find("skipped").get("message") == shown  # type: ignore[union-attr]


def test_a_lone_surrogate_from_run_json_is_shown_not_fatal(reported: Reported,
                                                            tmp_path: Path) -> None:
    copy = Path(shutil.copytree(reported.run.path, tmp_path / "run"))
    info = json.loads((copy / "run.json").read_text(encoding="utf-8"))
    info["scenario"]["name"] = "cut\ud83d"
    (copy / "run.json").write_text(json.dumps(info), encoding="utf-8")
    done = harness_cli("report", str(copy))
    assert done.returncode == 0, done.stderr
    assert "cut\ufffd" in (copy / "report.html").read_text(encoding="utf-8")

"""Renders the HTML report, the JUnit file and the JSON summary from a view-model.

jinja2 with autoescape and StrictUndefined: every captured URL and body is hostile input, and
a template that names a missing field must fail loudly rather than print nothing.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import jinja2

from harness.report.view import Report

TEMPLATES = Path(__file__).resolve().parents[2] / "reports"


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report, out: Path) -> Path:
    html = _env().get_template("report.html.j2").render(r=report)
    out.write_text(html, encoding="utf-8")
    return out


def write_junit(verdicts: Sequence[Mapping[str, object]], out: Path, suite: str) -> Path:
    """One test case per claim: FAIL is a failure, INCONCLUSIVE is skipped with its reason."""
    ts = ET.Element("testsuite", name=suite, tests=str(len(verdicts)),
                    failures=str(sum(v.get("verdict") == "FAIL" for v in verdicts)),
                    skipped=str(sum(v.get("verdict") == "INCONCLUSIVE" for v in verdicts)))
    for v in verdicts:
        case = ET.SubElement(ts, "testcase", classname=suite, name=str(v.get("claim")))
        reason = str(v.get("reason"))
        if v.get("verdict") == "FAIL":
            f = ET.SubElement(case, "failure", message=reason[:500])
            evidence = v.get("evidence")
            f.text = "evidence: " + ", ".join(map(str, evidence if isinstance(evidence, list)
                                                  else []))
        elif v.get("verdict") == "INCONCLUSIVE":
            ET.SubElement(case, "skipped", message=reason[:500])
        out_el = ET.SubElement(case, "system-out")
        out_el.text = str(v.get("quote"))
    ET.ElementTree(ts).write(out, encoding="utf-8", xml_declaration=True)
    return out


def write_summary(report: Report, out: Path) -> Path:
    data = {"title": report.title, "counts": report.counts,
            "verdicts": [{"claim": v.claim, "verdict": v.verdict, "why": v.why}
                         for v in report.verdicts],
            "runs": report.runs, "health": report.health}
    out.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return out


def as_dict(report: Report) -> dict[str, object]:
    return asdict(report)

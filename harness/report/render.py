"""Renders the HTML report, the JUnit file and the JSON summary from a view-model.

jinja2 with autoescape and StrictUndefined: every captured URL and body is hostile input, and
a template that names a missing field must fail loudly rather than print nothing.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path

import jinja2

from harness.report.view import Report
from harness.text import no_lone_surrogates

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
    # a lone surrogate (a run.json or needle name from elsewhere) is no UTF-8: shown as U+FFFD
    out.write_text(no_lone_surrogates(html), encoding="utf-8")
    return out


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
"""Characters XML 1.0 cannot carry at all, not even as &#1;: a captured id or a quote can hold
them, and one made junit.xml unreadable to every CI."""


def _xml(value: object) -> str:
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", str(value))


def write_junit(verdicts: Sequence[Mapping[str, object]], out: Path, suite: str) -> Path:
    """One test case per claim: FAIL is a failure, INCONCLUSIVE is skipped with its reason."""
    ts = ET.Element("testsuite", name=_xml(suite), tests=str(len(verdicts)),
                    failures=str(sum(v.get("verdict") == "FAIL" for v in verdicts)),
                    skipped=str(sum(v.get("verdict") == "INCONCLUSIVE" for v in verdicts)))
    for v in verdicts:
        case = ET.SubElement(ts, "testcase", classname=_xml(suite), name=_xml(v.get("claim")))
        reason = _xml(v.get("reason"))
        if v.get("verdict") == "FAIL":
            f = ET.SubElement(case, "failure", message=reason[:500])
            evidence = v.get("evidence")
            f.text = _xml("evidence: " + ", ".join(map(str, evidence if isinstance(evidence, list)
                                                       else [])))
        elif v.get("verdict") == "INCONCLUSIVE":
            ET.SubElement(case, "skipped", message=reason[:500])
        out_el = ET.SubElement(case, "system-out")
        out_el.text = _xml(v.get("quote"))
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

"""Writes a report folder: report.html, verdicts.json, junit.xml, summary.json.

Works for one run (``harness report RUN_DIR``) and for a suite of runs checked against one
claims file (``harness demo``), whose folder holds ``suite.json`` naming its runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import frida

from harness import __version__
from harness.capture.rundir import RunDir
from harness.claims.evidence import RunFacts, load_facts
from harness.errors import InputError
from harness.report.render import render_html, write_junit, write_summary
from harness.report.view import build

SUITE_JSON = "suite.json"


def publish(folder: Path, title: str, verdicts: Sequence[dict[str, object]],
            runs: Sequence[RunFacts], *, redact: bool = True,
            commands: Sequence[str] = ()) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "verdicts.json").write_text(json.dumps(list(verdicts), indent=2) + "\n",
                                          encoding="utf-8")
    tools: dict[str, object] = {"egress-harness": __version__, "frida": frida.__version__}
    bundles = sorted({str(f.info.tools.get("agent_bundle", ""))[:16] for f in runs} - {""})
    if bundles:
        tools["agent bundle"] = ", ".join(bundles)
    report = build(title, verdicts, runs, redact=redact, tools=tools, commands=commands)
    write_junit(verdicts, folder / "junit.xml", title)
    write_summary(report, folder / "summary.json")
    return render_html(report, folder / "report.html")


def report_folder(path: Path, *, redact: bool = True) -> Path:
    """Re-render the report of a run dir or a suite folder from what is on disk."""
    suite = path / SUITE_JSON
    if suite.is_file():
        meta = json.loads(suite.read_text(encoding="utf-8"))
        runs = [load_facts(path / p) for p in meta["runs"]]
        title = str(meta.get("title", "egress-harness report"))
        commands = [str(c) for c in meta.get("commands", [])]
    else:
        run = RunDir.open(path)
        runs = [load_facts(run)]
        info = runs[0].info
        title = f"{info.scenario.get('name') or 'capture'} — {info.target.get('app') or ''}"
        commands = [" ".join(info.command)] if info.command else []
    vpath = path / "verdicts.json"
    if not vpath.is_file():
        verdicts: list[dict[str, object]] = []
    else:
        try:
            verdicts = json.loads(vpath.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"verdicts.json is not JSON: {exc}", path=str(vpath)) from exc
    return publish(path, title, verdicts, runs, redact=redact, commands=commands)

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
from harness.capture.rundir import RunDir, read_json
from harness.claims.evidence import RunFacts, load_facts
from harness.claims.verdicts import check_distinct
from harness.errors import RunDirError
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
        runs_of, title, commands = _suite(suite)
        runs = [load_facts(path / p) for p in runs_of]
        check_distinct(runs)
        rerun = "re-run the suite (`harness demo`)"
    else:
        run = RunDir.open(path)
        runs = [load_facts(run)]
        info = runs[0].info
        title = f"{info.scenario.get('name') or 'capture'} — {info.target.get('app') or ''}"
        commands = [" ".join(info.command)] if info.command else []
        rerun = f"re-run `harness analyze {path} --claims CLAIMS`"
    vpath = path / "verdicts.json"
    verdicts = _verdicts(vpath, rerun) if vpath.is_file() else []
    return publish(path, title, verdicts, runs, redact=redact, commands=commands)


def _suite(path: Path) -> tuple[list[str], str, list[str]]:
    """suite.json's runs (at least one), title and commands, or a RunDirError naming the file
    and the field."""
    meta = read_json(path, "cannot read suite.json: {error}")
    if not isinstance(meta, dict):
        raise RunDirError("suite.json is not an object", path=str(path))
    runs, title = meta.get("runs"), meta.get("title", "egress-harness report")
    commands = meta.get("commands", [])
    if not isinstance(runs, list) or not runs or not all(isinstance(r, str) for r in runs):
        raise RunDirError("a list of the suite's run dirs expected", path=str(path),
                          field="runs")
    if not isinstance(commands, list) or not all(isinstance(c, str) for c in commands):
        raise RunDirError("a list of strings expected", path=str(path), field="commands")
    if not isinstance(title, str):
        raise RunDirError("a string expected", path=str(path), field="title")
    return runs, title, commands


_CHECK_KEYS = ("check", "status", "reason")
"""What the report shows of each check of a verdict (harness/claims/verdicts.py writes them)."""


def _verdicts(path: Path, rerun: str) -> list[dict[str, object]]:
    """verdicts.json, checked as far as the report reads it: a damaged file is a RunDirError
    naming it and the verdict, not a report that leaves a claim out or a traceback."""
    hint = f"{rerun} to rewrite it"
    data = read_json(path, "damaged ({error}); " + hint)
    if not isinstance(data, list):
        raise RunDirError(f"damaged (not a list of verdicts); {hint}", path=str(path))
    for i, v in enumerate(data):
        if not isinstance(v, dict):
            raise RunDirError(f"damaged (verdict {i} is not an object); {hint}", path=str(path))
        checks, evidence = v.get("checks", []), v.get("evidence", [])
        bad = ("claim" if not isinstance(v.get("claim"), str)
               else "verdict" if not isinstance(v.get("verdict"), str)
               else "evidence" if not isinstance(evidence, list)
               else "checks" if not isinstance(checks, list) or not all(
                   isinstance(c, dict) and all(k in c for k in _CHECK_KEYS) for c in checks)
               else None)
        if bad is not None:
            raise RunDirError(f"damaged (verdict {i} has no valid {bad!r}); {hint}",
                              path=str(path))
    return data

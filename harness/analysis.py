"""The analysis of a run dir: messages → needles → findings → destinations (→ verdicts).

Pure and re-runnable: everything it writes (analysis.sqlite, needles.json, findings.json,
destinations.json, verdicts.json) is derived from capture.sqlite and run.json, so a run can
be captured once and analysed many times, with newer code or other claims.
"""

from __future__ import annotations

import base64
import binascii
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.classify.destinations import Classifier, write_destinations
from harness.detect.finding import Finding, Needle
from harness.detect.findings import find
from harness.detect.needles import NEEDLES_JSON, merge, run_needles
from harness.parse.message import Message
from harness.parse.store import MessageStore

FINDINGS_JSON = "findings.json"


@dataclass
class Analysis:
    run: RunDir
    needles: list[Needle]
    findings: list[Finding]
    messages: int
    notes: list[str] = field(default_factory=list)

    @property
    def leaks(self) -> list[Finding]:
        return [f for f in self.findings if not f.control]

    @property
    def controls(self) -> list[Finding]:
        return [f for f in self.findings if f.control]


def transforms(run: RunDir) -> dict[bytes, tuple[str, bytes]]:
    """The app's own encoder/cipher calls (Java hooks): output bytes → (chain step, input)."""
    out: dict[bytes, tuple[str, bytes]] = {}
    with run.reader() as reader:
        for ev in reader.events(kinds=["transform"]):
            src, dst = ev.fields.get("input"), ev.fields.get("output")
            if not isinstance(src, str) or not isinstance(dst, str):
                continue
            try:
                data_in, data_out = base64.b64decode(src), base64.b64decode(dst)
            except (binascii.Error, ValueError):
                continue
            op = str(ev.fields.get("op") or "transform")
            algo = ev.fields.get("algorithm")
            step = f"cipher:{algo}" if op.startswith("cipher") and algo else f"app:{op}"
            if data_out:
                out[data_out] = (step, data_in)
    return out


def _fed(messages: Iterator[Message], classifier: Classifier) -> Iterator[Message]:
    for m in messages:
        classifier.add(m)
        yield m


def analyze_run(run: RunDir | Path | str, extra_needles: Sequence[Needle] = (),
                claims: Path | None = None) -> Analysis:
    rd = run if isinstance(run, RunDir) else RunDir.open(run)
    needles = merge(run_needles(rd), extra_needles)
    rd.write_json(NEEDLES_JSON, [n.to_json() for n in needles])
    notes: list[str] = []
    classifier = Classifier()  # fed as the detector reads: the messages are read once
    with MessageStore.open(rd, rebuild=True) as store:
        count = store.count()
        findings = find(_fed(store.messages(), classifier), needles, transforms(rd), notes)
    rd.write_json(FINDINGS_JSON, [f.to_json() for f in findings])
    write_destinations(rd, classifier=classifier)
    result = Analysis(rd, needles, findings, count, notes)
    if claims is not None:
        verdicts = importlib.import_module("harness.claims.verdicts")
        verdicts.write_verdicts(rd, claims, result)
    return result

"""The analysis of a run dir: messages → needles → findings → destinations (→ verdicts).

Pure and re-runnable: everything it writes (analysis.sqlite, needles.json, findings.json,
destinations.json, verdicts.json) is derived from capture.sqlite and run.json, so a run can
be captured once and analysed many times, with newer code or other claims.
"""

from __future__ import annotations

import base64
import binascii
import importlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from harness import collector, processend
from harness.capture.linesout import LinesOut
from harness.capture.rundir import RunDir
from harness.classify.destinations import Classifier, destinations_writer
from harness.detect.finding import Finding, Needle, findings_json, new_finding
from harness.detect.findings import Found, by_message, find_unnumbered, numbered
from harness.detect.needles import NEEDLES_JSON, merge, run_needles
from harness.parse.builder import MessageStream
from harness.parse.message import Message

try:  # built by setup.py with the package
    from harness.detect import _outjson
except ImportError:  # pragma: no cover - a checkout that was never built
    _outjson = None  # type: ignore[assignment]

FINDINGS_JSON = "findings.json"


@dataclass
class Analysis:
    """What :func:`analyze_run` made of a run."""

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
        # most runs have none (no Java hooks): asked first, by the kind's index, as events()
        # reads every connection before its first row (the 200 MB bench's 3,062 cost
        # ~125 M instructions, 0.5% of its analysis, to find no transform)
        if not reader.count("transform"):
            return out
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


class _Fed:
    """The stream's messages on their way to the detector, a batch (a connection's) at a
    time, fed to the classifier too; the detector writes down the span of notes each
    message got (:func:`find_unnumbered`'s ``spans``)."""

    def __init__(self, stream: MessageStream, classifier: Classifier,
                 notes: list[str]) -> None:
        self.stream, self.classifier, self.notes = stream, classifier, notes
        self.spans: list[tuple[str, int, int]] = []
        """(key id, first, end) of the notes of each message that has some."""
        self.head = self.tail = -1
        """Notes before the first message and from the end of the last one on."""

    def __iter__(self) -> Iterator[list[Message]]:
        add = self.classifier.add
        self.head = len(self.notes)
        for batch in self.stream.batches():
            deque(map(add, batch), 0)  # add(m) for each, called from C: no bytecode a message
            yield batch
        self.tail = len(self.notes)


def _store_order(found: list[Found], numbers: list[int]) -> list[tuple[str, list[Found]]]:
    """``found`` (key ids) in runs of one message's findings (:func:`by_message`), each
    under its store id, in the order of the store's numbers (``numbers``, by key): sorting
    the runs by number, stably, is sorting the findings so (tests/test_analysis.py compares
    the two), with one lookup and one id a run rather than a finding."""
    runs = [(numbers[int(mid[1:])], run) for mid, run in by_message(found)]
    runs.sort(key=itemgetter(0))
    return [(f"m{num}", run) for num, run in runs]


def _numbered_findings(fed: _Fed, found: list[Found], out: LinesOut, compiled: bool = True
                       ) -> tuple[list[Finding], list[str | None]]:
    """Findings as if the messages had come in the store's order, with its ids, their
    findings.json text (:func:`findings_json`) written to ``out``; and the store ids made
    for them, by key, for :func:`_numbered_rest`, which does the same for the notes and the
    classifier's ids.

    The stream gives messages in build order with key ids (:class:`MessageStream`); what the
    detector makes of a message does not depend on the others (its ``seen`` and most-specific
    filter are per message), so ordering its findings by message number (stably: a
    message's own stay in order) and renumbering ``f<i>`` gives the list the store's order
    would have; the same for each message's notes, which start with its id. The classifier
    keeps ids per host (its ``message_ids``), sorted the same way. ``compiled=False`` is the
    Python alone (the reference of numbering.c's, which tests/detect/test_numbering.py
    compares it with)."""
    # number() spelled out: it runs for every run of findings and every classifier id
    numbers = fed.stream.numbers()  # key ids are "k<key>"
    # each Finding made here, once (find_unnumbered leaves them to its caller); the
    # comparison with the store's order in tests/parse/test_stream.py would see a field out
    # of place. In C where it is built and takes them (numbering.c), the same Findings, each
    # one's line of findings.json written as it is made (a second walk over them all, cold
    # by then, was findings_json's) and given to the file a megabyte at a time, and a
    # message's store id made once for its findings and its host's ids (names, by key)
    names: list[str | None] = [None] * len(numbers)
    fast = compiled and _outjson is not None and new_finding is not Finding
    made = (_outjson.numbered_in_order(found, numbers, Finding, names, Finding.json_line,
                                       out.write) if fast else None)
    if made is not None:
        out.write(made[1])
        return made[0], names
    if fast:
        out.restart()  # the C may have written some before it handed back
    findings = numbered(_store_order(found, numbers))
    out.write(findings_json(findings, compiled))
    return findings, names


def _numbered_rest(fed: _Fed, names: list[str | None], compiled: bool = True) -> list[str]:
    """The rest of :func:`_numbered_findings`' renumbering, apart so that it runs while
    findings.json goes to disk: the notes in the store's order (returned) and the
    classifier's ids (in place), with the store ids ``names`` holds already."""
    numbers = fed.stream.numbers()
    notes = fed.notes
    in_order = notes[:fed.head]
    for mid, start, end in sorted(fed.spans, key=lambda s: numbers[int(s[0][1:])]):
        prefix, new = mid + ":", f"m{numbers[int(mid[1:])]}:"
        in_order += [new + n[len(prefix):] if n.startswith(prefix) else n
                     for n in notes[start:end]]
    in_order += notes[fed.tail:]
    c = fed.classifier
    hosts = [*c.accs.values(), *c.below.values()]
    lists = (_outjson.renumbered_all([a.ids for a in hosts], numbers, names)
             if compiled and _outjson is not None else None)
    if lists is None:
        lists = [[f"m{n}" for n in sorted([numbers[int(i[1:])] for i in a.ids])]
                 for a in hosts]
    for a, ids in zip(hosts, lists, strict=True):
        a.ids = ids
    final = fed.stream.final_id
    c.stack_ids = [(h, final(i)) for h, i in
                   sorted(c.stack_ids, key=lambda x: numbers[int(x[1][1:])])]
    return in_order


def analyze_run(run: RunDir | Path | str, extra_needles: Sequence[Needle] = (),
                claims: Path | None = None) -> Analysis:
    # the collector off for the analysis (see harness.collector for why that is safe)
    with collector.quiet():
        return _analyze(run, extra_needles, claims)


def _analyze(run: RunDir | Path | str, extra_needles: Sequence[Needle],
             claims: Path | None) -> Analysis:
    rd = run if isinstance(run, RunDir) else RunDir.open(run)
    needles = merge(run_needles(rd), extra_needles)
    rd.write_json(NEEDLES_JSON, [n.to_json() for n in needles])
    # the store is rebuilt and its messages scanned as they are written, not read back;
    # the classifier is fed as the detector reads
    stream = MessageStream(rd)
    fed = _Fed(stream, Classifier(), [])
    found = find_unnumbered(iter(fed), needles, transforms(rd), fed.notes, spans=fed.spans)
    if fed.tail < 0:
        raise RuntimeError("the detector stopped before the last message")
    count = stream.count
    classifier = fed.classifier
    # findings.json is written as the findings are numbered, then goes to disk (its sync is
    # the disk's time) while the notes and the classifier's ids are renumbered and the
    # destinations worked out; each file is moved into place whole, findings.json first, as
    # ever
    with rd.writing_json_lines(FINDINGS_JSON) as out:
        findings, names = _numbered_findings(fed, found, out)
        out.done()
        notes = _numbered_rest(fed, names)
        write_destinations = destinations_writer(rd, classifier=classifier, findings=findings)
    write_destinations()
    result = Analysis(rd, needles, findings, count, notes)
    # what the result does not hold, left to the process's end when the CLI ends it so
    # (the stream's numbering, the classifier's hosts, the detector's findings: ~65 ms of
    # freeing on the 200 MB bench); for any other caller, freed here as ever
    processend.keep(stream, fed, found)
    if claims is not None:
        verdicts = importlib.import_module("harness.claims.verdicts")
        verdicts.write_verdicts(rd, claims, result)
    return result

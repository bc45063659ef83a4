"""``harness scan INPUT... [--needle NAME=VALUE]... [--needles FILE] [--json]``

Finds needles in captures made elsewhere or earlier: a run dir, a HAR 1.2 file or a mitmproxy
flow file. It is the detector of ``harness analyze`` (same derivations, decoders and chains)
run over :func:`harness.parse.inputs.messages_of`, and it writes nothing: findings are printed.
Finding something is what the command is for, so it exits 0 with or without findings; bad
input or usage exits 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.capture.rundir import RunDir
from harness.detect.finding import Finding, Needle
from harness.detect.findings import find
from harness.detect.needles import load_needles_file, merge, parse_cli, run_needles
from harness.errors import ExitCode, UsageError
from harness.parse.inputs import InputKind, kind_of, messages_of
from harness.parse.message import Message

HELP = "find needles in a run dir, a HAR 1.2 file or a mitmproxy flow file"
DESCRIPTION = """\
Search captured traffic for identifiers and canaries, in every form the analysis knows (raw,
case, percent and JSON escaping, base64 at every alignment, hex, hashes, UTF-16) and through
every decoder (forms, JSON, base64, gzip/deflate/brotli, protobuf, Sensors Analytics).

Needles come from --needle NAME=VALUE, from --needles FILE (a YAML or JSON list of
{name, value, class}) and, for a run dir, from the run's own needles.json. Nothing is written;
a run dir's messages are built first if they are missing or stale.

Exit status: 0 (findings or not), 2 bad input or usage.
"""
WIDTH = 120
NOTES = 20


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                        help="a run dir, a HAR 1.2 file or a mitmproxy flow file")
    parser.add_argument("--needle", action="append", default=[], metavar="NAME=VALUE",
                        help="a value to look for, class user (repeatable)")
    parser.add_argument("--needles", type=Path, default=None, metavar="FILE",
                        help="YAML or JSON list of {name, value, class}")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


@dataclass
class Scanned:
    """The result of one input."""

    path: Path
    kind: InputKind
    needles: list[Needle]
    findings: list[Finding] = field(default_factory=list)
    messages: int = 0
    notes: list[str] = field(default_factory=list)


def _counted(messages: Iterator[Message], out: Scanned) -> Iterator[Message]:
    for m in messages:
        out.messages += 1
        yield m


def scan_input(path: Path, needles: Sequence[Needle]) -> Scanned:
    """One input through the detector; a run dir adds its own needles and app transforms."""
    kind = kind_of(path)
    transforms = None
    own: list[Needle] = []
    if kind is InputKind.RUN_DIR:
        from harness.analysis import transforms as run_transforms

        rd = RunDir.open(path)
        own = run_needles(rd)
        transforms = run_transforms(rd)
    all_needles = merge(needles, own)
    out = Scanned(path, kind, all_needles)
    if not all_needles:
        raise UsageError(f"{path}: no needles to look for (give --needle NAME=VALUE or "
                         "--needles FILE)")
    out.findings = find(_counted(messages_of(path), out), all_needles, transforms, out.notes)
    return out


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def print_table(results: Sequence[Scanned]) -> None:
    for r in results:
        leaks = [f for f in r.findings if not f.control]
        controls = [f for f in r.findings if f.control]
        print(f"{r.path} ({r.kind.value}): {r.messages} messages, {len(r.needles)} needles, "
              f"{len(leaks)} findings, {len(controls)} positive controls")
        if r.findings:
            print(f"  {'needle':<16} {'class':<11} {'message':<8} {'host':<28} chain / excerpt")
        for f in leaks + controls:
            mark = " (control)" if f.control else ""
            print(f"  {_cell(f.needle, 16):<16} {f.cls.value:<11} {f.message:<8} "
                  f"{_cell(f.host or '-', 28):<28} {' > '.join(f.chain)}{mark}")
            print(f"  {'':<67}{_cell(f.excerpt, WIDTH)}")
        for note in r.notes[:NOTES]:
            print(f"  note: {note}")
        if len(r.notes) > NOTES:
            print(f"  … {len(r.notes) - NOTES} more notes (--json lists them all)")


def as_json(results: Sequence[Scanned]) -> dict[str, object]:
    return {
        "inputs": [{"path": str(r.path), "kind": r.kind.value, "messages": r.messages,
                    "needles": [n.name for n in r.needles], "notes": r.notes}
                   for r in results],
        "findings": [{"input": str(r.path), **f.to_json()} for r in results
                     for f in r.findings],
    }


def run(args: argparse.Namespace) -> int:
    given = merge(parse_cli(args.needle),
                  load_needles_file(args.needles) if args.needles is not None else [])
    # Check every input before the first (maybe long) scan: a typo fails fast.
    for path in args.inputs:
        kind_of(path)
    results = [scan_input(p, given) for p in args.inputs]
    if args.json:
        print(json.dumps(as_json(results), indent=2, ensure_ascii=False))
    else:
        print_table(results)
    return int(ExitCode.OK)

"""``harness analyze RUN_DIR [--claims FILE] [--needle NAME=VALUE]...``"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from harness import processend
from harness.analysis import analyze_run
from harness.capture.rundir import RunDir
from harness.detect.needles import parse_cli
from harness.errors import ExitCode

HELP = "parse, decode and search a run; write messages, findings, destinations (and verdicts)"
DESCRIPTION = """\
Re-runnable analysis of a run directory: messages (analysis.sqlite), needles.json,
findings.json (each with the decode chain from the message to the value), destinations.json,
and with --claims, verdicts.json. The capture itself is never changed.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    parser.add_argument("--claims", type=Path, default=None, help="claims file to check")
    parser.add_argument("--needle", action="append", default=[], metavar="NAME=VALUE",
                        help="an extra value to look for (repeatable)")


def check_claims(run: RunDir, claims: Path) -> ExitCode:
    verdicts = importlib.import_module("harness.claims.verdicts")
    code: ExitCode = verdicts.exit_code_of(run)
    return code


def run(args: argparse.Namespace) -> int:
    if args.claims is not None:  # a broken claims file is refused before the analysis
        importlib.import_module("harness.claims.model").load_claims(args.claims)
    result = analyze_run(args.run_dir, parse_cli(args.needle), claims=args.claims)
    leaks = result.leaks  # a list made from all the findings each time it is asked for
    processend.keep(result, leaks)  # freed by the process's end (harness.cli.ENDS_UNTORN)
    controls = len(result.findings) - len(leaks)  # the others (not a second such list)
    print(f"{result.run.path}: {result.messages} messages, {len(result.needles)} needles, "
          f"{len(leaks)} findings, {controls} positive controls")
    for f in leaks[:20]:
        print(f"  {f.id} {f.needle} [{f.phase}] {f.host}: {' > '.join(f.chain)}")
    if len(leaks) > 20:
        print(f"  … {len(leaks) - 20} more in findings.json")
    for note in result.notes[:10]:
        print(f"  note: {note}")
    if len(result.notes) > 10:
        print(f"  … {len(result.notes) - 10} more notes (harness scan --json lists them all)")
    if args.claims is not None:
        return int(check_claims(result.run, args.claims))
    return 0

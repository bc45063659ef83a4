"""``harness report RUN_DIR|SUITE_DIR [--no-redact]``"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.report.publish import report_folder

HELP = "write report.html, junit.xml and summary.json for a run or a demo suite"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="RUN_DIR|SUITE_DIR")
    parser.add_argument("--no-redact", action="store_true",
                        help="show cookies, authorization headers and passwords as captured")


def run(args: argparse.Namespace) -> int:
    out = report_folder(args.path, redact=not args.no_redact)
    print(f"report: {out}")
    return 0

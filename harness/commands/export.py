"""``harness export RUN_DIR --format har|jsonl``: a run's traffic in a format other tools
read. ``har``: the parsed messages as HAR 1.2 (harness.parse.har). ``jsonl``: one capture
event per line (added by the capture layer)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.capture.rundir import RunDir

HELP = "write a run's traffic as HAR 1.2 (or JSON lines of events)"
DESCRIPTION = __doc__ or HELP


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path)
    parser.add_argument("--format", choices=["har", "jsonl"], default="har",
                        help="har: parsed requests/responses (HAR 1.2); jsonl: raw events")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="file to write (default: RUN_DIR/export.har for har, stdout "
                        "for jsonl; - for stdout)")


def _har(run: RunDir, output: Path | None) -> int:
    from harness.parse.har import write_har
    from harness.parse.storeread import MessageStore

    with MessageStore.open(run) as store:
        if output is not None and str(output) == "-":
            n = write_har(store, sys.stdout)
            where = "stdout"
        else:
            dest = output or run.file("export.har")
            with open(dest, "w", encoding="utf-8") as fh:
                n = write_har(store, fh)
            where = str(dest)
    print(f"{n} entries written to {where}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    run_dir = RunDir.open(args.run_dir)
    if args.format == "har":
        return _har(run_dir, args.output)
    return _jsonl(run_dir, args.output)


def _jsonl(run: RunDir, output: Path | None) -> int:
    from harness.capture.jsonl import write_jsonl

    if output is None or str(output) == "-":
        n = write_jsonl(run, sys.stdout)
        where = "stdout"
    else:
        with open(output, "w", encoding="utf-8") as fh:
            n = write_jsonl(run, fh)
        where = str(output)
    print(f"{n} events written to {where}", file=sys.stderr)
    return 0

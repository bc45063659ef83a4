"""``harness run SCENARIO.yaml [--device host|SERIAL] [--app lab:PROFILE|PACKAGE] ...``"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from harness.errors import UsageError
from harness.report.publish import report_folder
from harness.scenario.runner import run_scenario

HELP = "run one scenario on an app: capture, phases, analysis (and claims, with --claims)"
DESCRIPTION = """\
Run SCENARIO.yaml (a journey of phases and steps, see scenarios/) on an app, capture
everything it sends, and analyse the run. On this machine the app is the lab browser:
  --app lab:mint-3.4.0   the build as reported in 2020
  --app lab:mint-3.4.3   the build as claimed after the fix

examples:
  harness run scenarios/incognito.yaml --app lab:mint-3.4.0
  harness run scenarios/incognito-stats-off.yaml --app lab:mint-3.4.3 --out runs/
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", type=Path, metavar="SCENARIO.yaml")
    parser.add_argument("--device", default="host", help="host (default) or an adb serial")
    parser.add_argument("--app", default="lab:mint-3.4.0",
                        help="lab:mint-3.4.0 | lab:mint-3.4.3 | an Android package")
    parser.add_argument("--claims", type=Path, default=None, help="claims file to check")
    parser.add_argument("--out", type=Path, default=Path("runs"),
                        help="parent folder of the run directory (default ./runs)")
    parser.add_argument("--step-timeout", type=float, default=30.0, metavar="SECONDS")
    parser.add_argument("--no-redact", action="store_true",
                        help="show cookies, authorization headers and passwords in the report "
                             "(masked by default)")


def run(args: argparse.Namespace) -> int:
    if args.device != "host":
        raise UsageError("--device SERIAL: the Android runner is not wired to scenarios yet; "
                         "use --device host with a lab app (docs/android.md)")
    result = run_scenario(args.scenario, args.app, out=args.out,
                          step_timeout=args.step_timeout, claims=args.claims,
                          command_line=["harness", "run", *sys.argv[2:]])
    print(f"run: {result.run.path}")
    if not result.complete:
        print("some steps failed; their phases are marked incomplete (run.json)", file=sys.stderr)
    print(f"report: {report_folder(result.run.path, redact=not args.no_redact)}")
    if args.claims is not None:
        # the claims step lives with `harness analyze`
        analyze = importlib.import_module("harness.commands.analyze")
        return int(analyze.check_claims(result.run, args.claims))
    return 0

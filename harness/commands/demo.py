"""``harness demo [--app lab:mint-3.4.0|lab:mint-3.4.3] [--out DIR]``"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.claims.verdicts import exit_code
from harness.scenario.suite import STANDARD, XIAOMI_CLAIMS, run_suite

HELP = "the main job: standard journeys on the lab browser, checked against Xiaomi's 2020 claims"
DESCRIPTION = """\
Build what is needed (the agent, the lab browser), run the standard journeys (browsing,
incognito, incognito with usage statistics off, signed in with sync on and off, signed
out, restart/idle) on the lab browser, check Xiaomi's 2020 statements
(scenarios/claims/xiaomi-2020.yaml) and write an HTML report with the evidence.

  harness demo                       the build as reported in 2020 (lab:mint-3.4.0)
  harness demo --app lab:mint-3.4.3  the build as claimed after the fix

Exit code: 1 when a claim fails, 3 when none fails but some are inconclusive, 0 otherwise.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", default="lab:mint-3.4.0",
                        help="lab:mint-3.4.0 (default) or lab:mint-3.4.3")
    parser.add_argument("--out", type=Path, default=Path("runs"), help="parent folder")
    parser.add_argument("--claims", type=Path, default=XIAOMI_CLAIMS, help="claims file")
    parser.add_argument("--journeys", default=",".join(STANDARD),
                        help="comma-separated journeys (default: all standard ones)")
    parser.add_argument("--no-redact", action="store_true",
                        help="show cookies, authorization headers and passwords in the report "
                             "(masked by default)")


def run(args: argparse.Namespace) -> int:
    journeys = [j.strip() for j in args.journeys.split(",") if j.strip()]
    result = run_suite(args.app, args.out, claims=args.claims, journeys=journeys,
                       say=lambda s: print(s, file=sys.stderr), redact=not args.no_redact,
                       commands=["harness demo " + " ".join(sys.argv[2:])])
    width = max(len(v.claim.id) for v in result.verdicts)
    print()
    for v in result.verdicts:
        why = v.reason if len(v.reason) <= 90 else v.reason[:89] + "…"
        print(f"  {v.verdict:<13} {v.claim.id:<{width}}  {why}")
    print(f"\nreport: {result.report}")
    return int(exit_code(result.verdicts))

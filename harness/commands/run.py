"""``harness run SCENARIO.yaml [--device host|SERIAL] [--app lab:PROFILE|PACKAGE] ...``

On a phone (``--device SERIAL``) the journey is :func:`harness.device.android_journey.run_on_phone`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from harness.errors import UsageError
from harness.report.publish import report_folder
from harness.scenario.progress import Progress, default_verbosity
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
  harness run scenarios/browsing.yaml --device SERIAL --app com.android.chrome \
      --frida-server frida-server-17.26.2-android-arm64       (a rooted phone, docs/android.md)
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
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="show only failed steps and the closing line (progress goes to "
                             "stderr: every step on a terminal, one line per phase elsewhere)")
    phone = parser.add_argument_group("on a phone (--device SERIAL, --app PACKAGE)")
    phone.add_argument("--adb", action="append", default=[], metavar="HOST:PORT",
                       help="the adb server the phone hangs off (repeatable; default: local)")
    phone.add_argument("--frida-server", type=Path, default=None, metavar="FILE",
                       help="frida-server binary to push when the phone has none of the "
                            "host's Frida version")
    phone.add_argument("--profile", default=None, metavar="PROFILE",
                       help="app profile (scenarios/profiles); default: the one for PACKAGE")
    phone.add_argument("--install", type=Path, default=None, metavar="APK",
                       help="install (or update to) this APK of PACKAGE first")
    phone.add_argument("--account", default=None, metavar="NAME",
                       help="the account sign_in uses (default: the phone's Google account "
                            "for Chrome, its Mi account for Xiaomi's browsers)")
    parser.add_argument("--no-redact", action="store_true",
                        help="show cookies, authorization headers and passwords in the report "
                             "(masked by default)")


def run(args: argparse.Namespace) -> int:
    command_line = ["harness", "run", *sys.argv[2:]]
    if args.claims is not None:  # a broken claims file is refused before the journey runs
        importlib.import_module("harness.claims.model").load_claims(args.claims)
    if args.device != "host":
        if args.app.startswith("lab:"):
            raise UsageError("--device SERIAL runs an installed app: give its package with "
                             "--app, e.g. --app com.android.chrome")
        from harness.device.android_journey import PhoneOptions, run_on_phone
        result = run_on_phone(args.scenario, args.app, PhoneOptions(
            args.device, tuple(args.adb), args.frida_server, args.profile,
            install=args.install, account=args.account),
            out=args.out, claims=args.claims, command_line=command_line)
    else:
        result = run_scenario(args.scenario, args.app, out=args.out,
                              step_timeout=args.step_timeout, claims=args.claims,
                              command_line=command_line,
                              progress=Progress(verbosity=default_verbosity(args.quiet)))
    print(f"run: {result.run.path}")
    if not result.complete:
        print("some steps failed; their phases are marked incomplete (run.json)", file=sys.stderr)
    print(f"report: {report_folder(result.run.path, redact=not args.no_redact)}")
    if args.claims is not None:
        # the claims step lives with `harness analyze`
        analyze = importlib.import_module("harness.commands.analyze")
        return int(analyze.check_claims(result.run, args.claims))
    return 0

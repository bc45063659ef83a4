"""`harness profile`: validate app profiles, and walk a profile's selectors on a device."""

from __future__ import annotations

import argparse
import json

from harness.commands.devices import add_adb_arguments, endpoints
from harness.device.android_discovery import open_session
from harness.device.android_profile import find_profile, load_profile
from harness.device.android_steps import AndroidApp
from harness.errors import UsageError

HELP = "check app profiles (scenarios/profiles/*.yaml) offline or on a device"
DESCRIPTION = """\
`harness profile validate PROFILE...` loads profiles and reports schema errors with
file:line:column. `harness profile check --device SERIAL PROFILE` connects uiautomator2 to the
device and looks up every selector of the profile on the current screen (no taps, no typing),
saying which were found: run it on each screen of the app to confirm a profile before marking
it `verified: true`. PROFILE is a file or a name in scenarios/profiles.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = sub.add_parser("validate", help="load profiles and report schema errors")
    validate.add_argument("profiles", nargs="+", metavar="PROFILE")
    check = sub.add_parser("check", help="look up a profile's selectors on a device")
    add_adb_arguments(check)
    check.add_argument("--device", metavar="SERIAL", help="the device (default: the only one)")
    check.add_argument("--json", action="store_true", help="one JSON object per selector")
    check.add_argument("--step", action="append", default=[], metavar="STEP",
                       help="only this step's selectors (repeatable): one screen at a time")
    check.add_argument("profile", metavar="PROFILE")


def run(args: argparse.Namespace) -> int:
    if args.action == "validate":
        for name in args.profiles:
            profile = load_profile(find_profile(name))
            state = "verified" if profile.verified else "not verified on a phone"
            print(f"{profile.path}: {profile.name} ({profile.package}, {profile.versions}), "
                  f"{len(profile.steps)} steps, {len(profile.selectors())} selectors, {state}")
        return 0
    profile = load_profile(find_profile(args.profile))
    session = open_session(args.device, endpoints(args))
    unknown = [s for s in args.step if s not in profile.steps]
    if unknown:
        raise UsageError(f"profile {profile.name} has no step {unknown[0]!r} "
                         f"(has {', '.join(profile.steps)})")
    with AndroidApp(session, profile.package, profile) as app:
        app.control.info()  # one clear line when the app is not installed
        checks = app.check_selectors(tuple(args.step))
    for c in checks:
        if args.json:
            print(json.dumps({"step": c.step, "selector": c.selector.fields(), "found": c.found}))
        else:
            mark = {True: "found  ", False: "MISSING", None: "needs argument"}[c.found]
            print(f"{mark}  {c.step:<24} [{c.selector}]")
    found = sum(1 for c in checks if c.found)
    if not args.json:
        print(f"{profile.name} on {session.serial}: {found} of {len(checks)} selectors on the "
              "current screen")
    return 0

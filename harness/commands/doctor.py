"""``harness doctor [--json] [--device SERIAL] [--adb HOST:PORT]...``"""

from __future__ import annotations

import argparse
import json
import sys

from harness.diagnose import Check, host_checks
from harness.errors import ExitCode

HELP = "say what works on this machine (and a phone) and what is missing, with the fix"
DESCRIPTION = """\
Check what the harness needs, for real: Python and the frida package, a Frida injection into a
process spawned here (ptrace permissions), node/npm and hooks/node_modules, the agent build
and its ABI, the JDK for the lab browser, hyperscan, the writable cache dir; and what some
tests need (Debian's libokhttp-java and android-libboringssl, gcc, chromium). With --device or
--adb, also the phone: adb servers, device state, root, frida-server and its version, and
QUIC-blocking firewall rules left by a crashed run (removed unless --no-clean).

Exit code 0 when every required check is ok, 4 (environment) otherwise; WARN lines are
optional pieces and do not change the exit code.

examples:
  harness doctor
  harness doctor --json
  harness doctor --device 2c0f1a3e --adb 10.0.0.5:5037
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="one JSON object: {ok, checks: [{name, status, ok, required, "
                        "detail, fix}]}")
    parser.add_argument("--device", metavar="SERIAL", default=None,
                        help="also check this Android device")
    parser.add_argument("--adb", action="append", default=[], metavar="HOST:PORT",
                        help="adb server to ask (repeatable; default: the local one); "
                        "implies the device checks")
    parser.add_argument("--no-clean", action="store_true",
                        help="report leftover QUIC firewall rules on the device, do not "
                        "remove them")


def device_lines(serial: str | None, adb: list[str], clean: bool) -> list[Check]:
    from harness.device.android_doctor import device_checks

    checks = []
    for c in device_checks(serial, adb, clean):
        # a DeviceError's text ends with its fix; the table prints the fix on its own line
        detail = c.detail.removesuffix(f" (fix: {c.fix})") if c.fix else c.detail
        checks.append(Check(f"device:{c.name}", c.ok, True, detail, c.fix))
    return checks


def render(checks: list[Check]) -> str:
    """An aligned table: status, name, detail, and the fix under each line that is not ok."""
    sw = max(len(c.status.value) for c in checks)
    nw = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status.value:<{sw}}  {c.name:<{nw}}  {c.detail}")
        if c.fix:
            lines.append(f"{'':<{sw}}  {'':<{nw}}  fix: {c.fix}")
    missing = sum(1 for c in checks if c.required and not c.ok)
    warn = sum(1 for c in checks if not c.required and not c.ok)
    lines.append("")
    lines.append("all required checks ok" if not missing else
                 f"{missing} required check(s) MISSING")
    if warn:
        lines[-1] += f", {warn} optional warning(s)"
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    checks = host_checks()
    if args.device is not None or args.adb:
        checks += device_lines(args.device, list(args.adb), clean=not args.no_clean)
    ok = all(c.ok for c in checks if c.required)
    if args.json:
        print(json.dumps({"ok": ok, "checks": [c.to_json() for c in checks]}, indent=2))
    else:
        print(render(checks))
    sys.stdout.flush()
    return int(ExitCode.OK if ok else ExitCode.ENVIRONMENT)

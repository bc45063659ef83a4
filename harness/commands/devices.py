"""`harness devices`: list Android devices on the local and remote adb servers."""

from __future__ import annotations

import argparse
import json
import os

from harness.device.android_adb import DEFAULT_PORT, AdbEndpoint, AdbSession
from harness.device.android_discovery import device_info, list_devices
from harness.errors import UsageError
from harness.text import is_digits

HELP = "list Android devices (local and remote adb servers) with build, ABI and root"
DESCRIPTION = """\
List the Android devices every adb server knows: serial, state, model, manufacturer, Android
release and SDK, build fingerprint and incremental (the firmware build), ABI, and whether root
works (root adbd or `su`). Remote adb servers are given with --adb HOST:PORT (repeatable); the
local server (127.0.0.1:5037, or $ANDROID_ADB_SERVER_PORT) is always asked unless --no-local.
"""


def add_adb_arguments(parser: argparse.ArgumentParser) -> None:
    """The adb server options every Android command shares."""
    parser.add_argument("--adb", action="append", default=[], metavar="HOST:PORT",
                        help="also ask this adb server (repeatable)")
    parser.add_argument("--no-local", action="store_true",
                        help="do not ask the local adb server")


def local_port() -> int:
    """The local adb server's port: ``$ANDROID_ADB_SERVER_PORT`` as adb itself reads it."""
    text = os.environ.get("ANDROID_ADB_SERVER_PORT", "").strip() or str(DEFAULT_PORT)
    if len(text) > 5 or not is_digits(text) or not 0 < int(text) < 65536:
        raise UsageError(f"ANDROID_ADB_SERVER_PORT must be a port number (1-65535), got "
                         f"{text[:20]!r}{'...' if len(text) > 20 else ''}; fix or unset it")
    return int(text)


def endpoints(args: argparse.Namespace) -> list[AdbEndpoint]:
    found = [AdbEndpoint.parse(a) for a in args.adb]
    if not args.no_local:
        found.insert(0, AdbEndpoint("127.0.0.1", local_port()))
    return found


def configure(parser: argparse.ArgumentParser) -> None:
    add_adb_arguments(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per device")


def run(args: argparse.Namespace) -> int:
    entries = list_devices(endpoints(args))
    if not entries:
        print("no devices")
        return 0
    for entry in entries:
        row: dict[str, object] = {"serial": entry.serial, "state": entry.state,
                                  "adb": str(entry.endpoint)}
        if entry.state == "device":
            row.update(device_info(AdbSession(entry.endpoint, entry.serial)).to_json())
        if args.json:
            print(json.dumps(row, sort_keys=True))
            continue
        if entry.state != "device":
            print(f"{entry.serial}  {entry.state}  (adb {entry.endpoint})")
            continue
        root = str(row["root_mode"]) + (" (adb root possible)" if row["root_mode"] == "none"
                                        and row.get("adb_root_possible") else "")
        print(f"{entry.serial}  {row['manufacturer']} {row['model']}  Android {row['release']} "
              f"(SDK {row['sdk']})  {row['abi']}  root: {root}  (adb {entry.endpoint})")
        print(f"    build {row['fingerprint']}  incremental {row['incremental']}")
    return 0

"""`harness provision`: put the right frida-server on an Android device and check it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cachedir import frida_server_dir
from harness.commands.devices import add_adb_arguments, endpoints
from harness.device.android_discovery import open_session
from harness.device.android_frida import DEVICE_PORT, FridaServer

HELP = "push frida-server to an Android device and check its CPU and version"
DESCRIPTION = f"""\
Make sure DEVICE has a frida-server of the host's Frida version, built for its CPU. With
--frida-server FILE (the unpacked release binary, e.g. frida-server-17.26.2-android-arm64) the
file is checked (ELF CPU, version in the name), pushed to /data/local/tmp, made executable and
asked for its version on the device. Without it, the one on the device is checked, else a file
named like the release in {frida_server_dir()} is pushed. --start also runs it as root and
checks that Frida reaches it through adb forward.
"""


def configure(parser: argparse.ArgumentParser) -> None:
    add_adb_arguments(parser)
    parser.add_argument("--device", metavar="SERIAL", help="the device (default: the only one)")
    parser.add_argument("--frida-server", type=Path, metavar="FILE",
                        help="the frida-server binary to push")
    parser.add_argument("--start", action="store_true",
                        help="also start it as root and connect Frida through adb forward")
    parser.add_argument("--port", type=int, default=DEVICE_PORT, metavar="PORT",
                        help=f"the device port frida-server listens on (default {DEVICE_PORT})")


def run(args: argparse.Namespace) -> int:
    session = open_session(args.device, endpoints(args))
    server = FridaServer(session, device_port=args.port)
    version = server.provision(args.frida_server)
    print(f"{session.serial}: frida-server {version} ({server.device_arch()}) at "
          f"{server.device_path}")
    if args.start:
        with server:
            device = server.frida_device()
            print(f"{session.serial}: frida-server listens on the device's port {args.port}; "
                  f"Frida reaches it through adb forward tcp:{server.local_port} "
                  f"({device.name})")
    return 0

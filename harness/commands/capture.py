"""``harness capture [--out DIR] [--needle NAME=VALUE]... -- COMMAND...`` (or ``--package PKG``
on a phone, :func:`harness.device.android_capture.capture_package`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.agent.session import AgentConfig
from harness.capture.job import capture_command
from harness.capture.recorder import LiveStats
from harness.capture.summary import summarize
from harness.errors import UsageError
from harness.protocol import JSON

HELP = "record what one host command (and its children) sends, until it exits"
DESCRIPTION = """\
Spawn COMMAND under the Frida agent (native TLS, and Java hooks when it is a JVM) and record
everything it sends and receives into a new run directory (run.json + capture.sqlite,
written as it arrives). Prints a short summary. With --follow-children, processes it forks
or execs are instrumented too.

examples:
  harness capture -- curl -s https://127.0.0.1:8443/
  harness capture --needle canary=CANARY-1234 -- python3 client.py
  harness export runs/<run-id> --format jsonl
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("runs"),
                        help="parent folder of the new run directory (default: ./runs)")
    parser.add_argument("--needle", action="append", default=[], metavar="NAME=VALUE",
                        help="a value to look for (repeatable); also written to needles.json")
    parser.add_argument("--no-block-quic", action="store_true",
                        help="let UDP to ports 443/80 through (by default it fails, so QUIC "
                        "falls back to TCP and stays visible)")
    parser.add_argument("--no-java", action="store_true", help="do not install Java hooks")
    parser.add_argument("--follow-children", action="store_true",
                        help="instrument processes the command forks or execs (child gating), "
                        "each recorded under its own pid. Off by default: every fork then "
                        "waits for the harness, and with Frida 17.26 about 1-3%% of forked "
                        "children die in Frida's fork recovery, unrecorded (docs/capture.md)")
    parser.add_argument("--max-record-bytes", type=int, default=1 << 20, metavar="N",
                        help="cut each record's body after N bytes (marked truncated)")
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="kill the command after this long (default: wait)")
    phone = parser.add_argument_group("on a phone (instead of COMMAND)")
    phone.add_argument("--package", default=None, metavar="PKG",
                       help="record this Android app (spawned under Frida, else attached) "
                            "until it exits or --timeout")
    phone.add_argument("--device", default=None, metavar="SERIAL",
                       help="the phone (default: the only one)")
    phone.add_argument("--adb", action="append", default=[], metavar="HOST:PORT",
                       help="the adb server the phone hangs off (repeatable; default: local)")
    phone.add_argument("--frida-server", type=Path, default=None, metavar="FILE",
                       help="frida-server binary to push if the phone lacks the right one")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND...")


def parse_needles(items: list[str]) -> list[dict[str, JSON]]:
    out: list[dict[str, JSON]] = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise UsageError(f"--needle wants NAME=VALUE, got {item!r}")
        out.append({"name": name, "class": "user", "value": value, "source": "cli"})
    return out


def _progress(stats: LiveStats, elapsed: float) -> None:
    sys.stderr.write(
        f"\r  {elapsed:6.1f}s  {len(stats.connections)} conns  {stats.batches} batches  "
        f"{stats.bytes_out} B out  {stats.bytes_in} B in  "
        f"{stats.protocol_errors} protocol errors ")
    sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if args.package is not None:
        if command:
            raise UsageError("give either --package PKG or -- COMMAND, not both")
        return _capture_package(args)
    if not command:
        raise UsageError("give the command to capture after --, e.g. harness capture -- curl URL")
    config = AgentConfig(max_record_bytes=args.max_record_bytes,
                         block_quic=not args.no_block_quic, java=not args.no_java)
    result = capture_command(
        command, args.out, needles=parse_needles(args.needle), config=config,
        timeout=args.timeout, progress=_progress if sys.stderr.isatty() else None,
        follow_children=args.follow_children,
        command_line=["harness", "capture", *sys.argv[2:]] if len(sys.argv) > 2 else [],
    )
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(f"run: {result.run.path}")
    for line in summarize(result.run).lines():
        print(f"  {line}")
    if not result.exited:
        print("  the command did not exit before --timeout and was killed", file=sys.stderr)
    return 130 if result.interrupted else 0


def _capture_package(args: argparse.Namespace) -> int:
    from harness.device.android_capture import capture_package
    from harness.device.android_journey import PhoneOptions

    config = AgentConfig(max_record_bytes=args.max_record_bytes,
                         block_quic=not args.no_block_quic, java=not args.no_java)
    result = capture_package(
        args.package, PhoneOptions(args.device, tuple(args.adb), args.frida_server), args.out,
        needles=parse_needles(args.needle), config=config, timeout=args.timeout,
        command_line=["harness", "capture", *sys.argv[2:]] if len(sys.argv) > 2 else [],
        block_quic=not args.no_block_quic, say=lambda line: print(line, file=sys.stderr))
    print(f"run: {result.run.path}")
    for line in summarize(result.run).lines():
        print(f"  {line}")
    if not result.exited and not result.interrupted:
        print(f"  {args.package} still ran at --timeout (left running)", file=sys.stderr)
    return 130 if result.interrupted else 0

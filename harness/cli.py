"""The ``harness`` command line: parse, make one library call, map the exit code.

Each subcommand lives in ``harness/commands/<name>.py`` with ``HELP``, ``DESCRIPTION``,
``configure(parser)`` and ``run(args) -> int``; this module only lists them, imports the one
asked for, and turns expected errors into one line on stderr and their exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import importlib
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from harness import __version__, collector, processend
from harness.errors import ExitCode, HarnessError

_REFUSED = (errno.EROFS, errno.EACCES, errno.EPERM)
"""An OSError that is the file system refusing a write, not a bug."""

COMMANDS: dict[str, str] = {
    "demo": "harness.commands.demo",
    "run": "harness.commands.run",
    "capture": "harness.commands.capture",
    "analyze": "harness.commands.analyze",
    "report": "harness.commands.report",
    "scan": "harness.commands.scan",
    "export": "harness.commands.export",
    "doctor": "harness.commands.doctor",
    "cache": "harness.commands.cache",
    "devices": "harness.commands.devices",
    "provision": "harness.commands.provision",
    "profile": "harness.commands.profile",
}

EPILOG = """\
exit codes: 0 ok, 1 a claim failed, 2 bad input or usage, 3 inconclusive,
            4 device or environment error

Start with `harness demo` (the lab browser, the standard journeys and the Xiaomi 2020
claims), then `harness doctor` to see what this machine can do.
"""


def _load(name: str) -> ModuleType | None:
    try:
        with collector.quiet():  # module objects live as long as the process
            return importlib.import_module(COMMANDS[name])
    except ModuleNotFoundError as exc:
        if exc.name == COMMANDS[name]:
            return None  # not built yet in this checkout
        raise


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names, if its first word that is not an option is one: the
    top-level options (``-v``, ``-h``, ``--version``) take no value, so that word is it."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser, or, when ``argv`` names a subcommand, a parser with only that one:
    importing every command's module (Frida, the report, the claims) took a second before
    ``harness analyze`` could start. Parsing is the same either way: argparse dispatches on
    the name, and only the top-level help lists the others."""
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Audit what an app sends off the device, and check it against what the "
        "vendor says it sends.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"egress-harness {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="subcommand", metavar="COMMAND")
    named = _named_command(argv) if argv is not None else None
    for name in [named] if named is not None else COMMANDS:
        module = _load(name)
        if module is None:
            continue
        p = sub.add_parser(
            name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(p)
        p.set_defaults(_module=module)
    return parser


def _tolerant_output() -> None:
    """Captured text can hold what UTF-8 cannot carry (a lone UTF-16 surrogate from a Java
    string or a HAR's JSON, bytes kept by ``surrogateescape``): printed as a backslash escape
    (which is also how JSON writes it), never a crash of the command after its work."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a tool its reader left (``| head``), as 130 is
for Ctrl-C; 1 would say a claim failed."""


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the interpreter flushes it once more at exit, and that
    flush into the closed pipe would print "Exception ignored ... BrokenPipeError"."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (pytest's capture): no flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def main(argv: Sequence[str] | None = None) -> int:
    """The command; when stdout's reader goes away (``harness scan X --json | head``) it ends
    quietly, with no traceback, and exit code 141 (the standard way: catch BrokenPipeError
    here, then stdout to /dev/null with ``os.dup2``)."""
    _tolerant_output()
    try:
        try:
            return _main(argv)
        finally:  # also before argparse's SystemExit: what is still buffered fails here
            sys.stdout.flush()
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE


ENDS_UNTORN = frozenset({"analyze"})
"""Commands the console script ends with :func:`harness.processend.end` (no freeing of what
the run left, ~0.2 s of the 200 MB bench's analysis): when their ``run`` returns, every file
they write is closed and in place, every SQLite connection closed, and they start no child
process, server or device session that a destructor would stop. A command is added here
only once that is checked."""


def entry() -> int:
    """The console script's and ``python -m harness``'s way in: :func:`main`, then only the
    process's end. For :data:`ENDS_UNTORN` commands, that is :func:`harness.processend.end`:
    threads, atexit and the std streams as the interpreter's exit, then ``os._exit``, with
    the big objects still referenced (:func:`harness.processend.keep`), so neither their
    frames' return nor the finalization frees them one by one. Otherwise ``gc.freeze()``
    after main: the interpreter's finalization would run full collections over every object
    the run left (~30 M of the 20 MB benchmark's ~2,700 M instructions, callgrind), to find
    cycles the exit frees anyway. Modules are then still torn down and atexit handlers run;
    only objects in reference cycles are left to the exit, and the harness closes every
    file it writes itself (``with``), never through a finalizer. An exception out of main
    (argparse's ``SystemExit``, a KeyboardInterrupt outside the command) ends the usual
    way."""
    untorn = _named_command(sys.argv[1:]) in ENDS_UNTORN
    with processend.keeping() if untorn else contextlib.nullcontext():
        code = main()
        if untorn:
            processend.end(code)  # returns only when it cannot end the process alike
    gc.freeze()
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.subcommand is None:
        parser.print_help()
        return int(ExitCode.BAD_INPUT)
    try:
        return int(args._module.run(args))
    except HarnessError as exc:
        print(f"harness {args.subcommand}: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print(f"harness {args.subcommand}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main() ends it quietly
    except Exception as exc:  # noqa: BLE001 - a bug: said as one, never as a verdict's code
        if isinstance(exc, OSError) and exc.filename and exc.errno in _REFUSED:
            # a read-only run dir (an archive) or a file the user may not write: their
            # setting, not a bug; the outputs of analyze, scan and report go into the run dir
            print(f"harness {args.subcommand}: {exc.filename}: {exc.strerror} (derived "
                  "outputs are written into the run dir: copy a read-only one somewhere "
                  "writable)", file=sys.stderr)
            return int(ExitCode.BAD_INPUT)
        traceback.print_exc()
        print(f"harness {args.subcommand}: internal error ({type(exc).__name__}: {exc}); this"
              " is a bug in the harness, please report it with the traceback above",
              file=sys.stderr)
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(entry())

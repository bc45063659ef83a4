"""The small error tree every layer raises; each error knows the exit code it maps to.

Library errors (frida.*, adbutils.*) are translated into these at the boundary
(``agent/`` and ``device/``) with ``raise ... from``; the CLI prints ``str(error)`` as one
line and exits with ``error.exit_code``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The exit codes of ``harness`` (a contract: scripts rely on them)."""

    OK = 0
    CLAIM_FAILED = 1
    BAD_INPUT = 2
    INCONCLUSIVE = 3
    ENVIRONMENT = 4
    INTERNAL = 70
    """A bug in the harness (sysexits' EX_SOFTWARE): never 1, which says a claim failed."""


class HarnessError(Exception):
    """Base of every expected error. Its message is one line meant for the user."""

    exit_code: ExitCode = ExitCode.ENVIRONMENT


class UsageError(HarnessError):
    """The command line itself is wrong."""

    exit_code = ExitCode.BAD_INPUT


class InputError(HarnessError):
    """A file the user gave is broken. Names the file, and where known line, column, field."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.field = field
        self.detail = message
        where = path or ""
        if path is not None and line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        prefix = f"{where}: " if where else ""
        suffix = f" (field {field!r})" if field else ""
        super().__init__(f"{prefix}{message}{suffix}")


class RunDirError(InputError):
    """A run directory is missing, of an unknown format version, or unreadable."""


class EnvironmentError_(HarnessError):
    """Something on this machine is missing or refuses (frida, node, java, permissions)."""

    exit_code = ExitCode.ENVIRONMENT

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.fix = fix
        super().__init__(f"{message}" + (f" (fix: {fix})" if fix else ""))


class AgentError(EnvironmentError_):
    """The Frida agent could not be built, loaded or talked to."""


class DeviceError(HarnessError):
    """A device is absent, offline, unauthorized, unrooted, or refused a command.

    Always names the serial; carries the command and its output when there was one.
    """

    exit_code = ExitCode.ENVIRONMENT

    def __init__(
        self,
        serial: str,
        message: str,
        *,
        command: str | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.serial = serial
        self.command = command
        self.stdout = stdout
        self.stderr = stderr
        self.fix = fix
        text = f"device {serial}: {message}"
        if fix:
            text += f" (fix: {fix})"
        super().__init__(text)

"""The adb boundary: adb server endpoints, one device's shell/sync/forward, errors translated.

Everything the Android device code does on a phone goes through :class:`AdbSession`, so
``adbutils`` errors become :class:`harness.errors.DeviceError` (naming the serial) in one place.
Commands run through ``shell,v2`` when the device offers it (exit codes and stderr apart), and as
root through ``su -c`` or a root adbd, whichever the phone has.
"""

from __future__ import annotations

import logging
import shlex
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import adbutils

from harness.errors import DeviceError, UsageError
from harness.text import is_digits

log = logging.getLogger(__name__)

DEFAULT_PORT = 5037
SHELL_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class AdbEndpoint:
    """One adb server: the local one (127.0.0.1:5037) or a remote one given as HOST:PORT."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str) -> AdbEndpoint:
        host, sep, port = text.rpartition(":")
        if not sep or not host or not is_digits(port) or not 0 < int(port) < 65536:
            raise UsageError(f"--adb wants HOST:PORT, got {text!r}")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self) -> adbutils.AdbClient:
        """A client for this server, after checking it listens.

        adbutils would otherwise run ``adb start-server`` on a refused connection, which starts
        a server on the default port, not this one: never what a remote endpoint wants.
        """
        try:
            with socket.create_connection((self.host, self.port), timeout=3):
                pass
        except OSError as exc:
            raise DeviceError(str(self), f"no adb server answers at {self} ({exc.strerror or exc})",
                              fix="start one with `adb start-server`, or pass --adb HOST:PORT"
                              ) from exc
        return adbutils.AdbClient(host=self.host, port=self.port, socket_timeout=SHELL_TIMEOUT)


class RootMode(StrEnum):
    """How commands get root on a device."""

    NONE = "none"
    ADBD = "adbd"
    """adbd itself runs as root (``adb root`` on userdebug/eng builds, emulators)."""
    SU = "su"
    """A ``su`` binary (Magisk, KernelSU) that takes ``su -c COMMAND``."""


@dataclass(frozen=True, slots=True)
class ShellResult:
    command: str
    exit_code: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class AdbSession:
    """One device on one adb server."""

    def __init__(self, endpoint: AdbEndpoint, serial: str,
                 client: adbutils.AdbClient | None = None) -> None:
        self.endpoint = endpoint
        self.serial = serial
        self._client = client or endpoint.client()
        self.device = self._client.device(serial)
        self._v2: bool | None = None
        self._root: RootMode | None = None

    def __repr__(self) -> str:
        return f"AdbSession({self.serial}@{self.endpoint})"

    def error(self, message: str, *, command: str | None = None, result: ShellResult | None = None,
              fix: str | None = None) -> DeviceError:
        return DeviceError(self.serial, message,
                           command=command or (result.command if result else None),
                           stdout=result.stdout if result else None,
                           stderr=result.stderr if result else None, fix=fix)

    # -- shell --------------------------------------------------------------------------

    def shell(self, command: str | Sequence[str], *, root: bool = False, check: bool = False,
              timeout: float = SHELL_TIMEOUT) -> ShellResult:
        """Run ``command`` (a string, or argv that is quoted for the device shell)."""
        text = command if isinstance(command, str) else " ".join(shlex.quote(a) for a in command)
        if root:
            text = self._as_root(text)
        if self._v2 is None:
            try:
                self._v2 = "shell_v2" in self.device.get_features().split(",")
            except adbutils.AdbError:  # adbd before Android 7 may not know `features`
                self._v2 = False
        try:
            ret = self.device.shell2(text, timeout=timeout, v2=self._v2)
        except adbutils.AdbError as exc:
            raise self.error(f"adb refused `{text}`: {exc}", command=text) from exc
        result = ShellResult(text, ret.returncode, ret.stdout if self._v2 else ret.output,
                             ret.stderr)
        log.debug("%s$ %s -> %d", self.serial, text, result.exit_code)
        if check and not result.ok:
            first = (result.stderr or result.stdout).strip().splitlines()
            raise self.error(f"`{text}` failed (exit {result.exit_code})"
                             + (f": {first[0]}" if first else ""), result=result)
        return result

    def shell_bytes(self, command: Sequence[str], *, timeout: float = SHELL_TIMEOUT) -> bytes:
        """Raw stdout of a command whose output is binary (``screencap -p``)."""
        text = " ".join(shlex.quote(a) for a in command)
        try:
            data: bytes = self.device.shell(text, timeout=timeout, encoding=None)
        except adbutils.AdbError as exc:
            raise self.error(f"adb refused `{text}`: {exc}", command=text) from exc
        return data

    def getprop(self, name: str) -> str:
        return self.shell(["getprop", name]).stdout.strip()

    # -- root ---------------------------------------------------------------------------

    @property
    def root_mode(self) -> RootMode:
        """How this device gives root (probed once): root adbd, then ``su``, else none."""
        if self._root is None:
            self._root = RootMode.NONE
            if self.shell(["id", "-u"]).stdout.strip() == "0":
                self._root = RootMode.ADBD
            else:
                probe = self.shell("su -c 'id -u'", timeout=20)
                if probe.ok and probe.stdout.strip() == "0":
                    self._root = RootMode.SU
        return self._root

    def require_root(self, why: str) -> RootMode:
        mode = self.root_mode
        if mode is RootMode.NONE:
            raise self.error(f"no root: {why} needs root, and neither adbd runs as root nor "
                             "`su -c` works", fix="root the phone (Magisk) or use a userdebug "
                             "build/emulator and run `adb root`")
        return mode

    def _as_root(self, text: str) -> str:
        mode = self.require_root(f"`{text}`")
        return text if mode is RootMode.ADBD else f"su -c {shlex.quote(text)}"

    def adb_root(self) -> str:
        """Ask adbd to restart as root (works on userdebug/eng builds); returns its answer."""
        try:
            answer = str(self.device.root()).strip()
        except adbutils.AdbError as exc:
            raise self.error(f"`adb root` failed: {exc}") from exc
        self._root = None
        return answer

    # -- files, ports -------------------------------------------------------------------

    def push(self, data: bytes, path: str, mode: int = 0o755) -> int:
        try:
            size = int(self.device.sync.push(data, path, mode=mode, check=True))
        except adbutils.AdbError as exc:
            raise self.error(f"push to {path} failed: {exc}",
                             fix="push to /data/local/tmp, which the shell user can write"
                             ) from exc
        return size

    def pull(self, path: str) -> bytes:
        try:
            data: bytes = self.device.sync.read_bytes(path)
        except adbutils.AdbError as exc:
            raise self.error(f"pull of {path} failed: {exc}") from exc
        return data

    def stat(self, path: str) -> tuple[int, int] | None:
        """(mode, size) of a device file, or None when it does not exist."""
        try:
            info = self.device.sync.stat(path)
        except adbutils.AdbError as exc:
            raise self.error(f"stat of {path} failed: {exc}") from exc
        return None if info.mode == 0 else (info.mode, info.size)

    def forward(self, local_port: int, remote_port: int) -> None:
        try:
            self.device.forward(f"tcp:{local_port}", f"tcp:{remote_port}")
        except adbutils.AdbError as exc:
            raise self.error(f"adb forward tcp:{local_port} -> tcp:{remote_port} failed: {exc}"
                             ) from exc

    def forward_remove(self, local_port: int) -> None:
        try:
            self.device.forward_remove(f"tcp:{local_port}", raise_non_found=False)
        except adbutils.AdbError as exc:
            raise self.error(f"removing forward tcp:{local_port} failed: {exc}") from exc

    def reverse(self, device_port: int, host_port: int) -> None:
        try:
            self.device.reverse(f"tcp:{device_port}", f"tcp:{host_port}")
        except adbutils.AdbError as exc:
            raise self.error(f"adb reverse tcp:{device_port} -> tcp:{host_port} failed: {exc}"
                             ) from exc

    def reverse_remove(self, device_port: int) -> None:
        try:
            self.device.reverse_remove(f"tcp:{device_port}")
        except adbutils.AdbError as exc:
            raise self.error(f"removing reverse tcp:{device_port} failed: {exc}") from exc

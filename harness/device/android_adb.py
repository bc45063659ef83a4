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
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import adbutils
from adbutils._adb import AdbConnection
from adbutils.errors import AdbConnectionError

from harness.errors import DeviceError, UsageError
from harness.text import is_digits

log = logging.getLogger(__name__)

DEFAULT_PORT = 5037
SHELL_TIMEOUT = 60.0
CONNECT_TIMEOUT = 3.0
ADBUTILS_DEFAULT_TIMEOUT = 600
"""adbutils 2.12's ``_device_base._DEFAULT_SOCKET_TIMEOUT``: what ``open_transport`` (and with
it ``get_features``, ``forward``, ``reverse``, ``get_state``, the ``shell:`` handshake) passes
when the caller gives no timeout. :class:`HarnessAdbClient` reads it as "none given"."""

ADB_FAILURES: tuple[type[BaseException], ...] = (
    adbutils.AdbError,  # FAIL answers, timeouts, refused connections
    OSError,  # ConnectionResetError, BrokenPipeError: the server or the phone went away
    EOFError,  # a shell,v2 stream or a sync answer cut short
    ValueError,  # non-hex lengths, garbage versions, a plain shell cut after its exit marker
    AssertionError,  # sync STAT/LIST/RECV answered by something else (adbutils asserts)
    struct.error,  # a sync answer too short to unpack
)
"""What adbutils raises when the adb wire breaks. Every call into adbutils catches this tuple
and raises a :class:`DeviceError` instead."""


def adb_failure(exc: BaseException) -> str:
    """One line for an error from :data:`ADB_FAILURES`."""
    text = " ".join(str(exc).split())
    if isinstance(exc, adbutils.AdbError) and text:
        return text
    what = "the adb connection broke" if isinstance(exc, OSError | EOFError) else \
        "the adb server's answer made no sense"
    return f"{what} ({type(exc).__name__}{': ' + text if text else ''})"


class _NoStartConnection(AdbConnection):  # type: ignore[misc]
    """A connection to an adb server that, when nothing listens, fails: adbutils' own runs its
    bundled ``adb start-server``, which starts a server on 5037 (not the endpoint asked)."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        super().__init__(host, port)

    def _safe_connect(self) -> socket.socket:
        try:
            sock = socket.create_connection(self._target, timeout=CONNECT_TIMEOUT)
        except TimeoutError as exc:
            raise adbutils.AdbTimeout(f"connect to adb server {self._target[0]}:"
                                      f"{self._target[1]} timed out") from exc
        except OSError as exc:
            raise AdbConnectionError(f"connect to adb server {self._target[0]}:"
                                     f"{self._target[1]} failed: {exc.strerror or exc}"
                                     ) from exc
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(None)
        return sock


class HarnessAdbClient(adbutils.AdbClient):  # type: ignore[misc]
    """adbutils' client that never starts an adb server and never waits adbutils' 600 s.

    ``timeout`` bounds every socket read unless the caller passes its own (a shell command's
    ``timeout=``); adbutils' default in ``open_transport`` counts as none given."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(host=host, port=port, socket_timeout=timeout)
        self._timeout = timeout
        self._opening = threading.local()

    def make_connection(self, timeout: float | None = None) -> Any:
        if not timeout or timeout == ADBUTILS_DEFAULT_TIMEOUT:
            timeout = self._timeout
        conn = _NoStartConnection(self.host, self.port)
        conn.conn.settimeout(timeout)
        opened: list[Any] | None = getattr(self._opening, "conns", None)
        if opened is not None:
            opened.append(conn)
        return conn

    def device(self, serial: str | None = None, transport_id: int | None = None) -> Any:
        if not serial and not transport_id:
            return super().device(serial, transport_id)
        return _HarnessDevice(self, serial=serial, transport_id=transport_id)


class _HarnessDevice(adbutils.AdbDevice):  # type: ignore[misc]
    """adbutils' device whose ``open_transport`` closes its connection when the handshake
    fails (adbutils' leaves the socket to the garbage collector)."""

    _client: HarnessAdbClient

    def open_transport(self, command: str | None = None,
                       timeout: float | None = ADBUTILS_DEFAULT_TIMEOUT) -> Any:
        local = self._client._opening
        outer = getattr(local, "conns", None)
        opened: list[Any] = []
        local.conns = opened
        try:
            return super().open_transport(command, timeout)
        except BaseException:
            for conn in opened:
                conn.close()
            raise
        finally:
            local.conns = outer


@dataclass(frozen=True, slots=True)
class AdbEndpoint:
    """One adb server: the local one (127.0.0.1:5037) or a remote one given as HOST:PORT."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT

    @classmethod
    def parse(cls, text: str) -> AdbEndpoint:
        host, sep, port = text.rpartition(":")
        if not sep or not host or len(port) > 5 or not is_digits(port) \
                or not 0 < int(port) < 65536:
            raise UsageError(f"--adb wants HOST:PORT (port 1-65535), got {text[:80]!r}")
        host = host.strip("[]")
        try:
            host.encode("idna")
        except UnicodeError as exc:  # a label over 63 characters, or an empty one
            raise UsageError(f"--adb wants HOST:PORT, {host[:80]!r} is no host name ({exc})"
                             ) from exc
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self) -> HarnessAdbClient:
        """A client for this server, after checking it listens.

        The client never runs ``adb start-server`` (adbutils' does on a refused connection,
        which starts a server on the default port, not this one), and waits at most
        :data:`SHELL_TIMEOUT` for an answer unless a command says otherwise.
        """
        try:
            with socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT):
                pass
        except (OSError, ValueError, OverflowError) as exc:  # a bad host name or port
            why = getattr(exc, "strerror", None) or exc
            raise DeviceError(str(self), f"no adb server answers at {self} ({why})",
                              fix="start one with `adb start-server`, or pass --adb HOST:PORT"
                              ) from exc
        return HarnessAdbClient(self.host, self.port, SHELL_TIMEOUT)


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
                 client: HarnessAdbClient | None = None) -> None:
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

    @property
    def wire_fix(self) -> str:
        return (f"check the phone is still attached (`adb -s {self.serial} get-state`) and "
                f"the adb server at {self.endpoint} runs; restart it if it hangs")

    def fix_for(self, exc: BaseException) -> str | None:
        """The fix for an error from :data:`ADB_FAILURES`: none for a plain FAIL answer (the
        message says it), else what to check when the wire broke or timed out."""
        return None if type(exc) is adbutils.AdbError else self.wire_fix

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
            except ADB_FAILURES as exc:
                if type(exc) is not adbutils.AdbError:  # a timeout, a broken wire
                    raise self.error(f"asking adb for the device's features failed: "
                                     f"{adb_failure(exc)}", command=text,
                                     fix=self.wire_fix) from exc
                self._v2 = False  # a FAIL answer: adbd before Android 7 may not know it
        try:
            ret = self.device.shell2(text, timeout=timeout, v2=self._v2)
        except ADB_FAILURES as exc:
            raise self.error(f"adb failed on `{text}`: {adb_failure(exc)}", command=text,
                             fix=self.fix_for(exc)) from exc
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
        except ADB_FAILURES as exc:
            raise self.error(f"adb failed on `{text}`: {adb_failure(exc)}", command=text,
                             fix=self.fix_for(exc)) from exc
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
        except ADB_FAILURES as exc:
            raise self.error(f"`adb root` failed: {adb_failure(exc)}",
                             fix=self.fix_for(exc)) from exc
        self._root = None
        return answer

    # -- files, ports -------------------------------------------------------------------

    def push(self, data: bytes, path: str, mode: int = 0o755) -> int:
        try:
            size = int(self.device.sync.push(data, path, mode=mode, check=True))
        except ADB_FAILURES as exc:
            raise self.error(f"push to {path} failed: {adb_failure(exc)}",
                             fix="push to /data/local/tmp, which the shell user can write"
                             if type(exc) is adbutils.AdbError else self.wire_fix) from exc
        return size

    def pull(self, path: str) -> bytes:
        try:
            data: bytes = self.device.sync.read_bytes(path)
        except ADB_FAILURES as exc:
            raise self.error(f"pull of {path} failed: {adb_failure(exc)}",
                             fix=self.fix_for(exc)) from exc
        return data

    def stat(self, path: str) -> tuple[int, int] | None:
        """(mode, size) of a device file, or None when it does not exist."""
        try:
            info = self.device.sync.stat(path)
        except ADB_FAILURES as exc:
            raise self.error(f"stat of {path} failed: {adb_failure(exc)}",
                             fix=self.fix_for(exc)) from exc
        return None if info.mode == 0 else (info.mode, info.size)

    def forward(self, local_port: int, remote_port: int) -> None:
        try:
            self.device.forward(f"tcp:{local_port}", f"tcp:{remote_port}")
        except ADB_FAILURES as exc:
            raise self.error(f"adb forward tcp:{local_port} -> tcp:{remote_port} failed: "
                             f"{adb_failure(exc)}", fix=self.fix_for(exc)) from exc

    def forward_remove(self, local_port: int) -> None:
        try:
            self.device.forward_remove(f"tcp:{local_port}", raise_non_found=False)
        except ADB_FAILURES as exc:
            raise self.error(f"removing forward tcp:{local_port} failed: {adb_failure(exc)}",
                             fix=self.fix_for(exc)) from exc

    def reverse(self, device_port: int, host_port: int) -> None:
        try:
            self.device.reverse(f"tcp:{device_port}", f"tcp:{host_port}")
        except ADB_FAILURES as exc:
            raise self.error(f"adb reverse tcp:{device_port} -> tcp:{host_port} failed: "
                             f"{adb_failure(exc)}", fix=self.fix_for(exc)) from exc

    def reverse_remove(self, device_port: int) -> None:
        try:
            self.device.reverse_remove(f"tcp:{device_port}")
        except ADB_FAILURES as exc:
            raise self.error(f"removing reverse tcp:{device_port} failed: {adb_failure(exc)}",
                             fix=self.fix_for(exc)) from exc

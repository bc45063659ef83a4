"""frida-server on an Android device: find or push it, check it, run it as root, reach it via adb.

Frida only works when the server on the phone is the same version as the host's ``frida``
package and built for the phone's CPU, so both are checked before anything runs: the CPU from the
ELF header of the file (before pushing), the version from the file name when it has the release
name (``frida-server-17.26.2-android-arm64``) and, as the authority, from ``frida-server
--version`` run on the device. The server is started as root on a device port, reached through
``adb forward`` (on whichever adb server, local or remote, the phone hangs off) and Frida talks
to the forwarded port as a remote device. :class:`FridaServer` is a context manager; leaving it
removes the forward and stops the server if it started it, never raising.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from pathlib import Path
from types import TracebackType

import frida

from harness.cachedir import frida_server_dir
from harness.device.android_adb import ADB_FAILURES, AdbSession, adb_failure
from harness.errors import DeviceError, InputError
from harness.text import is_digits

log = logging.getLogger(__name__)

DEVICE_PATH = "/data/local/tmp/frida-server"
DEVICE_PORT = 27042
SYSTEM_PATHS = ("/system/bin/frida-server", "/system/xbin/frida-server",
                "/data/adb/modules/magisk-frida/system/bin/frida-server")
START_TIMEOUT = 10.0
RELEASES = "https://github.com/frida/frida/releases"

ELF_MACHINES = {183: "arm64", 40: "arm", 62: "x86_64", 3: "x86"}
"""ELF e_machine -> Frida's arch name (EM_AARCH64, EM_ARM, EM_X86_64, EM_386)."""
ABI_ARCH = {"arm64-v8a": "arm64", "armeabi-v7a": "arm", "armeabi": "arm", "x86_64": "x86_64",
            "x86": "x86"}


def elf_arch(data: bytes, *, path: str) -> str:
    """The CPU a binary is built for, from its ELF header (e_machine, either byte order)."""
    if len(data) < 20 or data[:4] != b"\x7fELF":
        raise InputError("not an ELF executable (want the uncompressed frida-server binary; "
                         "unpack the .xz from the release first)", path=path)
    machine = int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")
    if machine not in ELF_MACHINES:
        raise InputError(f"ELF for machine {machine}, not an Android CPU", path=path)
    return ELF_MACHINES[machine]


def version_from_name(name: str) -> str | None:
    m = re.search(r"frida-server-(\d+\.\d+\.\d+)", name)
    return m.group(1) if m else None


def release_name(version: str, arch: str) -> str:
    return f"frida-server-{version}-android-{arch}"


class FridaServer:
    """frida-server on one device, forwarded to a local port."""

    def __init__(self, session: AdbSession, *, host_version: str = frida.__version__,
                 device_port: int = DEVICE_PORT, device_path: str = DEVICE_PATH) -> None:
        self.session = session
        self.host_version = host_version
        self.device_port = device_port
        self.device_path = device_path
        self.local_port: int | None = None
        self.started_pid: int | None = None
        self._frida: frida.Device | None = None

    @property
    def serial(self) -> str:
        return self.session.serial

    def device_arch(self) -> str:
        abi = self.session.getprop("ro.product.cpu.abi")
        if abi not in ABI_ARCH:
            raise self.session.error(f"unknown CPU ABI {abi!r}")
        return ABI_ARCH[abi]

    # -- provisioning ----------------------------------------------------------------------

    def installed_version(self) -> str | None:
        """The version of the frida-server on the device, or None when there is none."""
        if self.session.stat(self.device_path) is None:
            return None
        out = self.session.shell([self.device_path, "--version"])
        if not out.ok:
            raise self.session.error(f"{self.device_path} does not run: "
                                     f"{(out.stderr or out.stdout).strip()}", result=out,
                                     fix=f"push a frida-server {self.host_version} built for "
                                         f"{self.device_arch()} with `harness provision`")
        return out.stdout.strip() or None

    def candidates(self) -> list[str]:
        """frida-server binaries already on the device: /data/local/tmp/frida-server*, and
        where Magisk modules put it."""
        found = []
        try:
            entries = self.session.device.sync.list("/data/local/tmp")
        except ADB_FAILURES as exc:
            raise self.session.error(f"listing /data/local/tmp failed: {adb_failure(exc)}",
                                     fix=self.session.fix_for(exc)) from exc
        for entry in entries:
            if entry.path.startswith("frida-server") and entry.mode & 0o100000 and \
                    not entry.path.endswith((".xz", ".gz")):
                found.append(f"/data/local/tmp/{entry.path}")
        found += [p for p in SYSTEM_PATHS if self.session.stat(p) is not None]
        return sorted(found)

    def version_at(self, path: str) -> str | None:
        out = self.session.shell([path, "--version"])
        return out.stdout.strip() or None if out.ok else None

    def provision(self, file: Path | None = None) -> str:
        """Make sure the device has the right frida-server; push ``file`` (or a cached one)."""
        arch = self.device_arch()
        want = release_name(self.host_version, arch)
        if file is None:
            have = self.installed_version()
            if have == self.host_version:
                return have
            for other in self.candidates():
                if other != self.device_path and self.version_at(other) == self.host_version:
                    log.info("%s: using the frida-server found at %s", self.serial, other)
                    self.device_path = other
                    return self.host_version
            cached = frida_server_dir() / want
            if not cached.is_file():
                what = "missing" if have is None else f"version {have}, host frida is " \
                                                      f"{self.host_version}"
                raise self.session.error(
                    f"frida-server {what} at {self.device_path}",
                    fix=f"download {want}.xz from {RELEASES}, unpack it and run "
                        f"`harness provision --device {self.serial} --frida-server FILE` "
                        f"(or put it in {frida_server_dir()})")
            file = cached
        try:
            data = file.read_bytes()
        except OSError as exc:  # missing, a directory, unreadable
            raise InputError(f"cannot read the frida-server binary: {exc.strerror or exc}",
                             path=str(file)) from exc
        file_arch = elf_arch(data, path=str(file))
        if file_arch != arch:
            raise InputError(f"frida-server is built for {file_arch}, device {self.serial} is "
                             f"{arch} (want {want})", path=str(file))
        named = version_from_name(file.name)
        if named is not None and named != self.host_version:
            raise self.session.error(
                f"{file.name} is frida-server {named}, host frida is {self.host_version}",
                fix=f"use {want} (frida on both sides must match)")
        self.stop_running()
        size = self.session.push(data, self.device_path, mode=0o755)
        if size != len(data):
            raise self.session.error(f"pushed {size} of {len(data)} bytes to {self.device_path}")
        self.session.shell(["chmod", "755", self.device_path], check=True)
        have = self.installed_version()
        if have != self.host_version:
            raise self.session.error(
                f"frida-server on the device is version {have or 'unknown'}, host frida is "
                f"{self.host_version}", fix=f"push {want} from {RELEASES}")
        log.info("%s: frida-server %s (%s) at %s", self.serial, have, arch, self.device_path)
        return have

    # -- running ---------------------------------------------------------------------------

    def running_pids(self) -> list[int]:
        out = self.session.shell(["pidof", os.path.basename(self.device_path)])
        return [int(p) for p in out.stdout.split() if is_digits(p)]

    def start(self) -> None:
        """Run frida-server as root on the device port (reusing one that already runs)."""
        self.session.require_root("frida-server")
        if self.running_pids():
            log.info("%s: frida-server already running", self.serial)
            return
        out = self.session.shell(
            [self.device_path, "-D", "-l", f"127.0.0.1:{self.device_port}"], root=True)
        if not out.ok:
            raise self.session.error(f"frida-server did not start: "
                                     f"{(out.stderr or out.stdout).strip()}", result=out)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            pids = self.running_pids()
            if pids:
                self.started_pid = pids[0]
                return
            time.sleep(0.2)
        raise self.session.error(f"frida-server exited within {START_TIMEOUT:.0f} s of starting",
                                 fix="run it by hand: adb shell su -c "
                                     f"'{self.device_path} -l 127.0.0.1:{self.device_port}'")

    def forward(self) -> int:
        """Forward a free local port to the device port; returns the local port."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        self.session.forward(port, self.device_port)
        self.local_port = port
        return port

    def frida_device(self) -> frida.Device:
        """Frida's handle on the forwarded server, checked with one round trip."""
        if self._frida is not None:
            return self._frida
        if self.local_port is None:
            raise self.session.error("frida-server is not forwarded yet")
        address = self._address()
        manager = frida.get_device_manager()
        device = manager.add_remote_device(address)
        try:
            try:
                params = device.query_system_parameters()
                log.info("%s: Frida reaches %s", self.serial, params.get("os", params))
            except frida.NotSupportedError:
                # Frida portals (frida-portal) answer the protocol without system parameters.
                device.enumerate_processes()
        except (frida.TransportError, frida.ServerNotRunningError, frida.ProtocolError,
                frida.InvalidOperationError) as exc:
            manager.remove_remote_device(address)
            raise self.session.error(
                f"frida-server is not answering through adb forward {address} -> "
                f"tcp:{self.device_port}: {exc}",
                fix=f"check `adb -s {self.serial} shell su -c '{self.device_path} --version'` "
                    "and that nothing else holds the port") from exc
        self._frida = device
        return device

    def _address(self) -> str:
        # adb binds forwards on the machine running the adb server: for a remote server that
        # machine is where the forwarded port lives.
        host = self.session.endpoint.host
        return f"{'127.0.0.1' if host in ('localhost', '::1') else host}:{self.local_port}"

    def stop_running(self) -> None:
        for pid in self.running_pids():
            self.session.shell(["kill", str(pid)], root=True)

    def stop(self) -> None:
        """Undo what this object did, in reverse; never raises."""
        if self._frida is not None and self.local_port is not None:
            try:
                frida.get_device_manager().remove_remote_device(self._address())
            except (frida.InvalidArgumentError, frida.InvalidOperationError) as exc:
                log.warning("%s: removing Frida's remote device: %s", self.serial, exc)
            self._frida = None
        if self.local_port is not None:
            try:
                self.session.forward_remove(self.local_port)
            except DeviceError as exc:
                log.warning("%s", exc)
            self.local_port = None
        if self.started_pid is not None:
            try:
                self.session.shell(["kill", str(self.started_pid)], root=True)
            except DeviceError as exc:
                log.warning("%s: stopping frida-server: %s", self.serial, exc)
            self.started_pid = None

    def __enter__(self) -> FridaServer:
        self.provision()
        try:
            self.start()
            self.forward()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

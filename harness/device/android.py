"""The Android device: one phone behind adb, as the runner and the capture code see it.

:class:`AndroidDevice` implements :class:`harness.device.base.Device` over small private modules,
one noun each: ``android_adb`` (the adb boundary), ``android_discovery`` (devices and their
build), ``android_frida`` (frida-server), ``android_ids`` (identifiers), ``android_netstats``
(kernel byte counters), ``android_quic`` (QUIC off), ``android_app`` (app control, spawn gating),
``android_profile`` / ``android_steps`` / ``android_ui`` (scenario steps by app profile).
Entering the device brings frida-server up behind an adb forward; leaving undoes it in reverse
and never raises. :func:`android_doctor` is what ``harness doctor --device`` runs for a phone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import frida

from harness.device.android_adb import AdbEndpoint, RootMode
from harness.device.android_app import Attach, SpawnGate, app_processes
from harness.device.android_discovery import device_info, open_session
from harness.device.android_frida import FridaServer
from harness.device.android_ids import IdentifierReader
from harness.device.android_netstats import app_uid, read_counters
from harness.device.android_profile import Profile
from harness.device.android_quic import (
    CHROMIUM_PACKAGES,
    ChromeCommandLine,
    QuicFirewall,
    cleanup_leftovers,
    leftover_chains,
)
from harness.device.android_steps import AndroidApp
from harness.device.base import DeviceInfo, EgressCounters, Identifier, Target
from harness.errors import DeviceError, HarnessError

log = logging.getLogger(__name__)

__all__ = ["AdbEndpoint", "AndroidApp", "AndroidDevice", "DoctorCheck", "android_doctor"]


class AndroidDevice:
    """A phone (or emulator) reached through an adb server, local or remote."""

    def __init__(self, serial: str | None = None, endpoints: Sequence[AdbEndpoint] = (),
                 *, frida_server: Path | None = None, run_tag: str | None = None) -> None:
        self.session = open_session(serial, list(endpoints) or [AdbEndpoint()])
        self.serial: str = self.session.serial
        self.run_tag = run_tag or time.strftime("%Y%m%d%H%M%S")
        self.frida_server_file = frida_server
        self.frida_server = FridaServer(self.session)
        self._stack = ExitStack()
        self._info: DeviceInfo | None = None
        self._uids: dict[str, int] = {}

    def __enter__(self) -> AndroidDevice:
        self.frida_server.provision(self.frida_server_file)
        self._stack.enter_context(self.frida_server)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self._stack.close()
        except HarnessError as error:  # each part logs and swallows; this is the last net
            log.warning("%s: teardown: %s", self.serial, error)

    def info(self) -> DeviceInfo:
        if self._info is None:
            self._info = device_info(self.session)
        return self._info

    def identifiers(self) -> Sequence[Identifier]:
        return IdentifierReader(self.session).read_all()

    def frida_device(self) -> frida.Device:
        return self.frida_server.frida_device()

    def uid(self, package: str) -> int:
        if package not in self._uids:
            self._uids[package] = app_uid(self.session, package)
        return self._uids[package]

    def egress_counters(self, target: Target, pids: Sequence[int]) -> EgressCounters | None:
        """The kernel's byte counts for the target app's UID (``pids`` are not needed here)."""
        if target.package is None:
            return None
        return read_counters(self.session, self.uid(target.package))

    @contextmanager
    def block_quic(self, target: Target) -> Iterator[str | None]:
        """iptables on rooted phones; Chrome's command-line file otherwise; else nothing."""
        if target.package is None:
            yield None
            return
        if self.session.root_mode is not RootMode.NONE:
            with QuicFirewall(self.session, self.uid(target.package), self.run_tag) as fw:
                yield fw.describe()
        elif target.package in CHROMIUM_PACKAGES:
            with ChromeCommandLine(self.session, target.package) as flags:
                yield flags.describe()
        else:
            log.warning("%s: cannot block QUIC for %s without root", self.serial, target.package)
            yield None

    def app(self, package: str, profile: Profile | None = None,
            evidence_dir: Path | None = None) -> AndroidApp:
        return AndroidApp(self.session, package, profile, evidence_dir)

    def spawn(self, package: str, attach: Attach) -> SpawnGate:
        """Spawn ``package`` under Frida; ``attach`` loads the agent into each of its processes."""
        AndroidApp(self.session, package).control.info()  # "not installed" before Frida
        gate = SpawnGate(self.frida_device(), package, attach)
        gate.start()
        self._stack.callback(gate.stop)
        return gate


    def attach_running(self, package: str, attach: Attach) -> list[int]:
        """Attach to every running process of ``package`` (when spawning is not possible or
        the app must keep its state); returns the pids handed to ``attach``."""
        found = app_processes(self.session, package)
        if not found:
            raise self.session.error(f"{package} is not running",
                                     fix="launch it first (step `launch`) or use spawn")
        for pid, name in found:
            attach(pid, name)
        return [pid for pid, _ in found]


@dataclass(frozen=True, slots=True)
class DoctorCheck:
    """One line of ``harness doctor --device``: what was checked, the result, and the fix."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def android_doctor(serial: str | None, adb: Sequence[AdbEndpoint] | None = None,
                   *, clean: bool = True) -> list[DoctorCheck]:
    """Check a phone for a run and remove QUIC rules a crashed run left behind. Never raises."""
    checks: list[DoctorCheck] = []
    try:
        session = open_session(serial, list(adb or [AdbEndpoint()]))
    except DeviceError as exc:
        return [DoctorCheck("device", False, str(exc), exc.fix)]
    checks.append(DoctorCheck("device", True, f"{session.serial} on adb server {session.endpoint}"))
    try:
        info = device_info(session)
        checks.append(DoctorCheck("build", True, f"{info.manufacturer} {info.model}, Android "
                                  f"{info.release} (SDK {info.sdk}), {info.incremental}, "
                                  f"{info.abi}"))
        root = session.root_mode
        checks.append(DoctorCheck("root", root is not RootMode.NONE, f"root: {root}",
                                  None if root is not RootMode.NONE else
                                  "root the phone (Magisk) or `adb root` on a userdebug build"))
        server = FridaServer(session)
        try:
            have = server.installed_version()
        except DeviceError as exc:
            have = None
            checks.append(DoctorCheck("frida-server", False, str(exc), exc.fix))
        else:
            ok = have == server.host_version
            checks.append(DoctorCheck(
                "frida-server", ok, f"{server.device_path}: {have or 'missing'} (host frida "
                f"{server.host_version})", None if ok else
                f"harness provision --device {session.serial} --frida-server FILE"))
        if root is not RootMode.NONE:
            left = leftover_chains(session)
            if left and clean:
                removed = cleanup_leftovers(session)
                checks.append(DoctorCheck("quic-rules", True, "removed leftover rules: "
                                          + ", ".join(removed)))
            else:
                names = sorted({c for _, c, _ in left})
                checks.append(DoctorCheck("quic-rules", not left, "leftover chains: "
                                          + (", ".join(names) or "none"),
                                          "harness doctor --device SERIAL" if left else None))
    except DeviceError as exc:
        checks.append(DoctorCheck("device", False, str(exc), exc.fix))
    return checks

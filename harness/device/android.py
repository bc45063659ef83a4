"""The Android device: one phone behind adb, as the runner and the capture code see it.

:class:`AndroidDevice` implements :class:`harness.device.base.Device` over small private modules,
one noun each: ``android_adb`` (the adb boundary), ``android_discovery`` (devices and their
build), ``android_frida`` (frida-server), ``android_ids`` (identifiers), ``android_netstats``
(kernel byte counters), ``android_quic`` (QUIC off), ``android_app`` (app control, spawn gating),
``android_profile`` / ``android_steps`` / ``android_ui`` (scenario steps by app profile).
Entering the device brings frida-server up behind an adb forward; leaving undoes it in reverse
and never raises. ``harness doctor --device`` runs
:func:`harness.device.android_doctor.device_checks`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
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
)
from harness.device.android_steps import AndroidApp
from harness.device.base import DeviceInfo, EgressCounters, Identifier, Target
from harness.errors import HarnessError

log = logging.getLogger(__name__)

__all__ = ["AdbEndpoint", "AndroidApp", "AndroidDevice"]


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
        gate = SpawnGate(self.frida_device(), package, attach, self.serial)
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

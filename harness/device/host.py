"""The local Linux machine as a device: the lab and the self-tests run here.

Processes are spawned or attached through ``frida.get_local_device()``. Identifiers are
read from the places a host keeps them (machine-id, hostname, MAC addresses) and recorded
with their source; what cannot be read is recorded as unavailable, never guessed. A host has
no per-app kernel byte counters here, so :meth:`HostDevice.egress_counters` says so (None)
and the verdicts treat byte coverage as unmeasured.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import frida

from harness.device.base import DeviceInfo, EgressCounters, Identifier, NeedleClass, Target
from harness.errors import EnvironmentError_

SERIAL = "host"


class HostDevice:
    """The machine the harness runs on (``--device host``)."""

    serial = SERIAL

    def __init__(self, extra_identifiers: Sequence[Identifier] = ()) -> None:
        self._extra = tuple(extra_identifiers)
        self._frida: frida.Device | None = None

    def __enter__(self) -> HostDevice:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def info(self) -> DeviceInfo:
        osr = _os_release()
        return DeviceInfo(
            serial=SERIAL, kind="host", manufacturer=None, model=platform.node() or None,
            release=osr.get("PRETTY_NAME") or platform.platform(),
            fingerprint=f"{platform.system()} {platform.release()} {platform.version()}",
            abi=platform.machine(), rooted=os.geteuid() == 0,
        )

    def identifiers(self) -> list[Identifier]:
        ids: list[Identifier] = []
        mid = Path("/etc/machine-id")
        try:
            value = mid.read_text(encoding="ascii").strip()
            ids.append(Identifier("machine-id", NeedleClass.DEVICE_ID, value or None, str(mid),
                                  None if value else "empty file"))
        except OSError as exc:
            ids.append(Identifier("machine-id", NeedleClass.DEVICE_ID, None, str(mid),
                                  f"unreadable: {exc.strerror}"))
        host = socket.gethostname()
        ids.append(Identifier("hostname", NeedleClass.QUASI_ID, host or None, "gethostname()",
                              None if host else "empty"))
        for iface in sorted(Path("/sys/class/net").glob("*")):
            try:
                mac = (iface / "address").read_text(encoding="ascii").strip()
            except OSError:
                continue
            if mac and mac != "00:00:00:00:00:00":
                ids.append(Identifier(f"mac-{iface.name}", NeedleClass.NETWORK_ID, mac,
                                      str(iface / "address")))
        return ids + list(self._extra)

    def frida_device(self) -> frida.Device:
        if self._frida is None:
            try:
                self._frida = frida.get_local_device()
            except (frida.NotSupportedError, frida.PermissionDeniedError) as exc:
                raise EnvironmentError_(f"frida cannot reach the local machine: {exc}",
                                        fix="run as root, with ptrace allowed") from exc
        return self._frida

    def egress_counters(self, target: Target, pids: Sequence[int]) -> EgressCounters | None:
        # No per-process byte counter exists on a plain host without netns or cgroup
        # accounting set up for the target; say "not measured" rather than guess.
        return None

    @contextlib.contextmanager
    def block_quic(self, target: Target) -> Iterator[str | None]:
        """On the host the agent's UDP hook refuses UDP 443/80 (config ``blockQuic``)."""
        yield "agent"


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key:
                out[key] = value.strip().strip('"')
    return out

"""The protocol every device implements (host lab machine, Android phone).

The runner and the capture code talk to a device only through this protocol; ``frida`` and
``adbutils`` errors are translated into :mod:`harness.errors` inside the device modules.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from harness.needleclass import NeedleClass as NeedleClass

if TYPE_CHECKING:  # types only
    import frida

    from harness.protocol import JSON


@dataclass(frozen=True, slots=True)
class Identifier:
    """One identifier a device exposes, with where it was read.

    ``value`` is None when it could not be read; ``unavailable`` then says why. Never guessed.
    """

    name: str
    cls: NeedleClass
    value: str | None
    source: str
    unavailable: str | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    serial: str
    kind: str
    """``host`` or ``android``"""
    manufacturer: str | None = None
    model: str | None = None
    release: str | None = None
    sdk: int | None = None
    fingerprint: str | None = None
    incremental: str | None = None
    abi: str | None = None
    rooted: bool = False
    extra: dict[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        return {
            "serial": self.serial, "kind": self.kind, "manufacturer": self.manufacturer,
            "model": self.model, "release": self.release, "sdk": self.sdk,
            "fingerprint": self.fingerprint, "incremental": self.incremental, "abi": self.abi,
            "rooted": self.rooted, **self.extra,
        }


@dataclass(frozen=True, slots=True)
class EgressCounters:
    """Bytes the kernel counted for the target (an app UID, or a process tree on the host)."""

    tx_bytes: int
    rx_bytes: int
    source: str
    """Where they came from, e.g. ``/proc/net/xt_qtaguid/stats`` or ``dumpsys netstats``."""
    tx_packets: int | None = None
    """Packets sent, where the source counts them (each costs IP/TCP header bytes that
    ``tx_bytes`` includes and no hook sees)."""
    rx_packets: int | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """What to capture: an Android package, or a host command line."""

    package: str | None = None
    argv: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    def describe(self) -> str:
        return self.package or " ".join(self.argv)


@runtime_checkable
class Device(Protocol):
    """A place where a target app runs and Frida reaches it.

    A device is a context manager: entering prepares it (frida-server up, port forwards),
    leaving undoes what entering did, in reverse, never raising.
    """

    serial: str

    def __enter__(self) -> Device: ...

    def __exit__(self, *exc: object) -> None: ...

    def info(self) -> DeviceInfo: ...

    def identifiers(self) -> Sequence[Identifier]: ...

    def frida_device(self) -> frida.Device: ...

    def egress_counters(self, target: Target, pids: Sequence[int]) -> EgressCounters | None:
        """Kernel byte counts for the target now, or None where the device has none."""
        ...

    def block_quic(self, target: Target) -> AbstractContextManager[str | None]:
        """Make UDP 443/80 from the target fail for the duration; yields how (or None)."""
        ...

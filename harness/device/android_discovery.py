"""Finding Android devices on adb servers and describing them (model, firmware build, ABI, root).

Devices come from the local adb server and from any remote ones (``--adb HOST:PORT``,
repeatable). A device that is offline or unauthorized is listed with its state; opening one
fails with one line that says what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import adbutils

from harness.device.android_adb import (
    ADB_FAILURES,
    AdbEndpoint,
    AdbSession,
    RootMode,
    adb_failure,
)
from harness.device.base import DeviceInfo
from harness.errors import DeviceError
from harness.text import is_digits

STATE_FIX = {
    "unauthorized": "unlock the phone and accept the 'Allow USB debugging?' dialog",
    "offline": "reconnect the cable or run `adb reconnect`; check the phone is awake",
    "no permissions": "fix the udev rule for the phone (see `adb devices`)",
}


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One line of ``adb devices -l`` on one server."""

    serial: str
    state: str
    endpoint: AdbEndpoint
    model: str | None = None
    product: str | None = None


def list_devices(endpoints: Sequence[AdbEndpoint]) -> list[DeviceEntry]:
    """Every device every server knows, in any state. A server that does not answer raises."""
    entries: list[DeviceEntry] = []
    for endpoint in endpoints:
        client = endpoint.client()
        try:
            infos = client.list(extended=True)
        except ADB_FAILURES as exc:
            raise DeviceError(str(endpoint), f"adb server at {endpoint} failed to list devices: "
                              f"{adb_failure(exc)}",
                              fix=None if type(exc) is adbutils.AdbError else
                              f"restart the adb server at {endpoint} (`adb kill-server`)"
                              ) from exc
        for info in infos:
            model = info.tags.get("model")
            entries.append(DeviceEntry(info.serial, info.state, endpoint,
                                       model.replace("_", " ") if model else None,
                                       info.tags.get("product")))
    return entries


def open_session(serial: str | None, endpoints: Sequence[AdbEndpoint]) -> AdbSession:
    """The session of the one device named (or the only one), ready for commands."""
    entries = list_devices(endpoints)
    where = ", ".join(str(e) for e in endpoints)
    if serial is None:
        ready = [e for e in entries if e.state == "device"]
        if len(ready) != 1:
            label = "no device" if not ready else f"{len(ready)} devices"
            raise DeviceError("(none)",
                              f"{label} ready on adb server {where}; name one with --device",
                              fix="plug in the phone with USB debugging on" if not ready else None)
        entry = ready[0]
    else:
        matches = [e for e in entries if e.serial == serial]
        if not matches:
            raise DeviceError(serial, f"not attached to adb server {where}",
                              fix="check `harness devices`; for a remote server pass "
                                  "--adb HOST:PORT")
        entry = matches[0]
    if entry.state != "device":
        raise DeviceError(entry.serial, f"is {entry.state} on adb server {entry.endpoint}",
                          fix=STATE_FIX.get(entry.state, "check `adb devices -l`"))
    return AdbSession(entry.endpoint, entry.serial)


def device_info(session: AdbSession) -> DeviceInfo:
    """Describe the device from its properties (one `getprop` call) and its root access."""
    props = _getprop_all(session)

    def prop(*names: str) -> str | None:
        for name in names:
            if props.get(name):
                return props[name]
        return None

    sdk_text = prop("ro.build.version.sdk")
    root = session.root_mode
    build_type = prop("ro.build.type")
    extra: dict[str, str | bool | None] = {
        "root_mode": str(root),
        "adb_root_possible": (props.get("ro.debuggable") == "1"
                              or build_type in ("userdebug", "eng")),
        "build_type": build_type,
        "device": prop("ro.product.device", "ro.product.vendor.device"),
        "brand": prop("ro.product.brand"),
        "abilist": prop("ro.product.cpu.abilist"),
        "security_patch": prop("ro.build.version.security_patch"),
        "miui": prop("ro.miui.ui.version.name"),
        "adb_server": str(session.endpoint),
    }
    return DeviceInfo(
        serial=session.serial, kind="android",
        manufacturer=prop("ro.product.manufacturer", "ro.product.vendor.manufacturer"),
        model=prop("ro.product.model", "ro.product.vendor.model"),
        release=prop("ro.build.version.release"),
        sdk=int(sdk_text) if sdk_text and is_digits(sdk_text) else None,
        fingerprint=prop("ro.build.fingerprint", "ro.vendor.build.fingerprint"),
        incremental=prop("ro.build.version.incremental", "ro.vendor.build.version.incremental"),
        abi=prop("ro.product.cpu.abi"),
        rooted=root is not RootMode.NONE,
        extra={k: v for k, v in extra.items() if v is not None},
    )


def _getprop_all(session: AdbSession) -> dict[str, str]:
    out = session.shell(["getprop"], check=True).stdout
    props: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("[") and "]: [" in line and line.endswith("]"):
            key, _, value = line[1:-1].partition("]: [")
            props[key] = value
    return props

"""What ``harness doctor --device`` checks on a phone, each with the fix; leftovers cleaned.

:func:`device_checks` never raises: every problem is one :class:`DeviceCheck` line (``ok``
false, ``fix`` says what to do). In order: each adb server answers, the device is there and
ready (not offline or unauthorized), its build, root, frida-server on the device and its version
against the host's ``frida``, and QUIC firewall chains a crashed run left behind (found by our
``egh_`` chain prefix and ``egress-harness:<tag>`` comment), removed when ``clean`` is true.
Later checks that need an earlier one (root for iptables) say so instead of running.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from harness.device.android_adb import AdbEndpoint, AdbSession, RootMode
from harness.device.android_discovery import STATE_FIX, device_info, list_devices
from harness.device.android_frida import RELEASES, FridaServer, release_name
from harness.device.android_quic import cleanup_leftovers, leftover_chains
from harness.errors import DeviceError, HarnessError
from harness.text import is_digits

__all__ = ["DeviceCheck", "device_checks", "local_endpoint"]


@dataclass(frozen=True, slots=True)
class DeviceCheck:
    """One line of ``harness doctor --device``."""

    name: str
    """What was checked: ``adb-server``, ``device``, ``build``, ``root``, ``frida-server``,
    ``quic-rules``."""
    ok: bool
    detail: str
    """What was found, naming the serial or the server."""
    fix: str
    """What to do when not ok (empty when ok)."""


def _text(exc: HarnessError) -> str:
    """An error's line without its ``(fix: ...)``: a check carries the fix in its own field."""
    fix = getattr(exc, "fix", None)
    text = str(exc)
    return text.removesuffix(f" (fix: {fix})") if fix else text


def local_endpoint() -> AdbEndpoint:
    """The local adb server, on ``$ANDROID_ADB_SERVER_PORT`` as adb itself reads it."""
    port = os.environ.get("ANDROID_ADB_SERVER_PORT", "").strip()
    ok = len(port) <= 5 and is_digits(port) and 0 < int(port) < 65536
    return AdbEndpoint("127.0.0.1", int(port) if ok else 5037)


def device_checks(serial: str | None, adb_servers: Sequence[str],
                  clean: bool) -> list[DeviceCheck]:
    """Check one phone (or the only one) for a run. ``adb_servers``: ``HOST:PORT`` strings;
    empty means the local server."""
    checks: list[DeviceCheck] = []
    endpoints: list[AdbEndpoint] = []
    for text in adb_servers or [str(local_endpoint())]:
        try:
            endpoints.append(AdbEndpoint.parse(text))
        except HarnessError as exc:
            checks.append(DeviceCheck("adb-server", False, _text(exc), "give --adb as HOST:PORT"))
    reachable: list[AdbEndpoint] = []
    for endpoint in endpoints:
        try:
            entries = list_devices([endpoint])
        except DeviceError as exc:
            checks.append(DeviceCheck("adb-server", False, _text(exc), exc.fix or
                                      "start the adb server (`adb start-server`)"))
            continue
        reachable.append(endpoint)
        checks.append(DeviceCheck("adb-server", True, f"adb server {endpoint} answers, "
                                  f"{len(entries)} device(s)", ""))
    if not reachable:
        return checks
    try:
        session = _device(serial, reachable, checks)
    except HarnessError as exc:  # the server broke between listing and opening
        checks.append(DeviceCheck("device", False, _text(exc), getattr(exc, "fix", None) or
                                  "check `harness devices`"))
        return checks
    if session is None:
        return checks
    try:
        _check_device(session, clean, checks)
    except HarnessError as exc:  # the phone went away mid-check: one more line, not a traceback
        checks.append(DeviceCheck("device", False, _text(exc), getattr(exc, "fix", None) or
                                  f"check `adb -s {session.serial} get-state`"))
    return checks


def _device(serial: str | None, endpoints: list[AdbEndpoint],
            checks: list[DeviceCheck]) -> AdbSession | None:
    entries = list_devices(endpoints)
    where = ", ".join(map(str, endpoints))
    if serial is None:
        ready = [e for e in entries if e.state == "device"]
        if len(ready) != 1:
            listed = ", ".join(f"{e.serial} ({e.state})" for e in entries) or "none"
            checks.append(DeviceCheck(
                "device", False, f"{len(ready)} ready devices on {where} (listed: {listed})",
                "plug in the phone with USB debugging on" if not ready else
                "name one with --device SERIAL"))
            return None
        entry = ready[0]
    else:
        found = [e for e in entries if e.serial == serial]
        if not found:
            checks.append(DeviceCheck("device", False, f"device {serial}: not attached to adb "
                                      f"server {where}", "check the cable and `harness devices`;"
                                      " for a remote server pass --adb HOST:PORT"))
            return None
        entry = found[0]
    if entry.state != "device":
        checks.append(DeviceCheck("device", False, f"device {entry.serial}: is {entry.state} on "
                                  f"adb server {entry.endpoint}",
                                  STATE_FIX.get(entry.state, "check `adb devices -l`")))
        return None
    checks.append(DeviceCheck("device", True, f"device {entry.serial} ready on adb server "
                              f"{entry.endpoint}", ""))
    return AdbSession(entry.endpoint, entry.serial)


def _check_device(session: AdbSession, clean: bool, checks: list[DeviceCheck]) -> None:
    serial = session.serial
    info = device_info(session)
    checks.append(DeviceCheck("build", True, f"device {serial}: {info.manufacturer} {info.model},"
                              f" Android {info.release} (SDK {info.sdk}), build "
                              f"{info.incremental}, {info.abi}", ""))
    root = session.root_mode
    rooted = root is not RootMode.NONE
    adb_root = bool(info.extra.get("adb_root_possible"))
    checks.append(DeviceCheck(
        "root", rooted, f"device {serial}: root via {root}" if rooted else
        f"device {serial}: no root (adbd is not root and `su -c` fails)",
        "" if rooted else (f"run `adb -s {serial} root` (this build allows it)" if adb_root else
                           "root the phone (Magisk) or use a userdebug build or emulator")))
    checks.append(_frida_check(session, info.abi))
    if not rooted:
        checks.append(DeviceCheck("quic-rules", True, f"device {serial}: not checked (iptables "
                                  "needs root; no run can have left rules without it)", ""))
        return
    left = leftover_chains(session)
    names = sorted({f"{tool} {chain}" for tool, chain, _ in left})
    if not left:
        checks.append(DeviceCheck("quic-rules", True, f"device {serial}: no leftover QUIC rules",
                                  ""))
    elif clean:
        removed = cleanup_leftovers(session)
        remaining = leftover_chains(session)
        checks.append(DeviceCheck(
            "quic-rules", not remaining, f"device {serial}: removed leftover QUIC rules of "
            f"earlier runs: {', '.join(removed)}" + (f"; still there: {remaining}"
                                                      if remaining else ""),
            "" if not remaining else f"remove by hand: adb -s {serial} shell su -c "
                                     "'iptables -S' and -D/-F/-X the egh_ chains"))
    else:
        checks.append(DeviceCheck("quic-rules", False, f"device {serial}: leftover QUIC rules of "
                                  f"earlier runs: {', '.join(names)}",
                                  f"harness doctor --device {serial} (cleans them)"))


def _frida_check(session: AdbSession, abi: str | None) -> DeviceCheck:
    serial = session.serial
    server = FridaServer(session)
    try:
        arch = server.device_arch()
    except DeviceError as exc:
        return DeviceCheck("frida-server", False, _text(exc), "an Android CPU frida supports")
    want = release_name(server.host_version, arch)
    fix = (f"download {want}.xz from {RELEASES}, unpack it, then "
           f"`harness provision --device {serial} --frida-server {want}`")
    try:
        have = server.installed_version()
    except DeviceError as exc:
        return DeviceCheck("frida-server", False, _text(exc), fix)
    if have == server.host_version:
        running = server.running_pids()
        state = f"running (pid {running[0]})" if running else "not running (started by a run)"
        return DeviceCheck("frida-server", True, f"device {serial}: frida-server {have} at "
                           f"{server.device_path}, {state}", "")
    for other in server.candidates():
        if other != server.device_path and server.version_at(other) == server.host_version:
            return DeviceCheck("frida-server", True, f"device {serial}: frida-server "
                               f"{server.host_version} at {other}", "")
    what = "missing" if have is None else f"version {have}"
    return DeviceCheck("frida-server", False, f"device {serial}: frida-server {what} at "
                       f"{server.device_path}, host frida is {server.host_version} ({abi})", fix)

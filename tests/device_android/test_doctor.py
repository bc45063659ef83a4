"""`device_checks` (harness doctor --device) against fake adb servers, local and remote."""

from __future__ import annotations

import socket
import struct

import frida
import pytest

from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_doctor import DeviceCheck, device_checks
from harness.device.android_quic import QuicFirewall
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakeFile, FakePhone


def by_name(checks: list[DeviceCheck]) -> dict[str, DeviceCheck]:
    return {c.name: c for c in checks}


def server(adb: FakeAdbServer) -> str:
    return f"127.0.0.1:{adb.port}"


def frida_binary(version: str) -> FakeFile:
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, 183)
    return FakeFile(header + f"frida-version={version}".encode(), mode=0o100755)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_ready_rooted_phone_with_the_right_frida_server(adb: FakeAdbServer,
                                                         ginkgo: FakePhone) -> None:
    ginkgo.files["/data/local/tmp/frida-server"] = frida_binary(frida.__version__)
    checks = device_checks(ginkgo.serial, [server(adb)], clean=False)
    assert [c.name for c in checks] == ["adb-server", "device", "build", "root", "frida-server",
                                        "quic-rules"]
    assert all(c.ok and c.fix == "" for c in checks), checks
    named = by_name(checks)
    assert "Redmi Note 8" in named["build"].detail
    assert named["root"].detail == f"device {ginkgo.serial}: root via su"
    assert f"frida-server {frida.__version__} at /data/local/tmp/frida-server, not running" in \
        named["frida-server"].detail


def test_leftover_rules_are_reported_then_cleaned(adb: FakeAdbServer, ginkgo: FakePhone) -> None:
    session = AdbSession(AdbEndpoint("127.0.0.1", adb.port), ginkgo.serial)
    QuicFirewall(session, fp.MINT_UID, "crashed-run").install()  # never removed: a crash
    report = by_name(device_checks(ginkgo.serial, [server(adb)], clean=False))["quic-rules"]
    assert not report.ok
    assert report.detail.endswith("iptables egh_crashed-run, ip6tables egh_crashed-run") or \
        report.detail.endswith("ip6tables egh_crashed-run, iptables egh_crashed-run")
    assert report.fix == f"harness doctor --device {ginkgo.serial} (cleans them)"
    assert "egh_crashed-run" in ginkgo.iptables["iptables"]

    cleaned = by_name(device_checks(ginkgo.serial, [server(adb)], clean=True))["quic-rules"]
    assert cleaned.ok
    assert "removed leftover QUIC rules" in cleaned.detail
    assert ginkgo.iptables == {"iptables": {"OUTPUT": []}, "ip6tables": {"OUTPUT": []}}
    again = by_name(device_checks(ginkgo.serial, [server(adb)], clean=True))["quic-rules"]
    assert again.detail == f"device {ginkgo.serial}: no leftover QUIC rules"


def test_unrooted_phone_without_frida_server(adb: FakeAdbServer, pixel: FakePhone) -> None:
    named = by_name(device_checks(pixel.serial, [server(adb)], clean=True))
    assert not named["root"].ok
    assert named["root"].fix.startswith("root the phone")
    assert not named["frida-server"].ok
    assert named["frida-server"].detail.startswith(f"device {pixel.serial}: frida-server missing")
    assert f"frida-server-{frida.__version__}-android-arm64" in named["frida-server"].fix
    assert "harness provision" in named["frida-server"].fix
    assert named["quic-rules"].ok
    assert not any("iptables" in c for c in pixel.commands)


def test_frida_server_of_another_version(adb: FakeAdbServer, ginkgo: FakePhone) -> None:
    ginkgo.files["/data/local/tmp/frida-server"] = frida_binary("16.1.4")
    check = by_name(device_checks(ginkgo.serial, [server(adb)], clean=False))["frida-server"]
    assert not check.ok
    assert check.detail == (f"device {ginkgo.serial}: frida-server version 16.1.4 at "
                            f"/data/local/tmp/frida-server, host frida is {frida.__version__} "
                            "(arm64-v8a)")


def test_a_matching_frida_server_elsewhere_is_found(adb: FakeAdbServer, ginkgo: FakePhone) -> None:
    ginkgo.files["/data/local/tmp/frida-server"] = frida_binary("16.1.4")
    ginkgo.files[f"/data/local/tmp/frida-server-{frida.__version__}"] = \
        frida_binary(frida.__version__)
    check = by_name(device_checks(ginkgo.serial, [server(adb)], clean=False))["frida-server"]
    assert check.ok, check
    assert check.detail.endswith(f"at /data/local/tmp/frida-server-{frida.__version__}")


@pytest.mark.parametrize(("state", "fix"), [("unauthorized", "Allow USB debugging"),
                                            ("offline", "adb reconnect")])
def test_a_device_not_ready_stops_the_checks(adb: FakeAdbServer, ginkgo: FakePhone, state: str,
                                             fix: str) -> None:
    ginkgo.state = state
    checks = device_checks(ginkgo.serial, [server(adb)], clean=True)
    assert [c.name for c in checks] == ["adb-server", "device"]
    assert not checks[1].ok
    assert checks[1].detail == f"device {ginkgo.serial}: is {state} on adb server {server(adb)}"
    assert fix in checks[1].fix
    assert ginkgo.commands == []


def test_remote_server_and_a_dead_one(adb: FakeAdbServer, remote_adb: FakeAdbServer,
                                      arrow: FakePhone) -> None:
    dead = f"127.0.0.1:{closed_port()}"
    checks = device_checks(arrow.serial, [dead, server(remote_adb)], clean=True)
    assert checks[0].name == "adb-server"
    assert not checks[0].ok
    assert dead in checks[0].detail
    named = by_name(checks[1:])
    assert named["device"].detail == f"device {arrow.serial} ready on adb server " \
                                     f"{server(remote_adb)}"
    # ArrowOS userdebug: no su, but adbd may run as root: the fix says so.
    assert not named["root"].ok
    assert named["root"].fix == f"run `adb -s {arrow.serial} root` (this build allows it)"


def test_no_server_and_no_device(adb: FakeAdbServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(closed_port()))
    (check,) = device_checks(None, [], clean=True)
    assert check.name == "adb-server"
    assert not check.ok
    assert "no adb server answers" in check.detail
    assert "fix:" not in check.detail  # the fix is in its own field
    assert check.fix.startswith("start one with `adb start-server`")
    checks = device_checks("nope", [server(adb)], clean=True)
    assert checks[-1] == DeviceCheck(
        "device", False, f"device nope: not attached to adb server {server(adb)}",
        "check the cable and `harness devices`; for a remote server pass --adb HOST:PORT")
    two = device_checks(None, [server(adb)], clean=True)
    assert two[-1].fix == "name one with --device SERIAL"

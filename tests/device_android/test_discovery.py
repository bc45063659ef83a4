"""Discovery against the fake adb server: real adbutils, real sockets, real-device getprop."""

from __future__ import annotations

import json
import socket

import pytest

from harness.cli import main
from harness.device.android_adb import AdbEndpoint, AdbSession, RootMode
from harness.device.android_discovery import device_info, list_devices, open_session
from harness.errors import DeviceError, ExitCode, UsageError
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone


def ep(server: FakeAdbServer) -> AdbEndpoint:
    return AdbEndpoint("127.0.0.1", server.port)


def test_lists_devices_of_local_and_remote_servers(adb: FakeAdbServer,
                                                   remote_adb: FakeAdbServer) -> None:
    entries = list_devices([ep(adb), ep(remote_adb)])
    assert [(e.serial, e.state, e.endpoint.port) for e in entries] == [
        ("a1b2c3d4", "device", adb.port), ("1A2B3C4D5E6F7G", "device", adb.port),
        ("f00dcafe", "device", remote_adb.port)]
    assert entries[0].model == "Redmi Note 8"
    assert "host:devices-l" in adb.wire.requests


def test_info_of_a_redmi_note_8_from_its_getprop(ginkgo_session: AdbSession,
                                                  ginkgo: FakePhone) -> None:
    info = device_info(ginkgo_session)
    assert (info.manufacturer, info.model, info.release, info.sdk) == (
        "Xiaomi", "Redmi Note 8", "10", 29)
    assert info.fingerprint == (
        "xiaomi/ginkgo/ginkgo:10/QKQ1.200114.002/V12.0.5.0.QCOMIXM:user/release-keys")
    assert info.incremental == "V12.0.5.0.QCOMIXM"
    assert info.abi == "arm64-v8a"
    assert info.rooted
    assert info.extra["root_mode"] == "su"
    assert info.extra["adb_root_possible"] is False
    assert "su -c 'id -u'" in ginkgo.commands


def test_info_of_a_pixel_without_root(pixel_session: AdbSession) -> None:
    info = device_info(pixel_session)
    assert (info.model, info.sdk, info.incremental) == ("Pixel 6", 34, "11010805")
    assert not info.rooted


def test_remote_userdebug_build_gets_root_with_adb_root(remote_adb: FakeAdbServer,
                                                        arrow: FakePhone) -> None:
    session = open_session("f00dcafe", [ep(remote_adb)])
    assert session.root_mode is RootMode.NONE
    assert device_info(session).extra["adb_root_possible"] is True
    assert "restarting adbd as root" in session.adb_root()
    assert session.root_mode is RootMode.ADBD
    assert f"{arrow.serial}|root:" in remote_adb.wire.requests


@pytest.mark.parametrize(("state", "fix"), [("offline", "adb reconnect"),
                                             ("unauthorized", "Allow USB debugging")])
def test_offline_or_unauthorized_is_one_line_naming_the_serial(
        adb: FakeAdbServer, ginkgo: FakePhone, state: str, fix: str) -> None:
    ginkgo.state = state
    with pytest.raises(DeviceError) as err:
        open_session(ginkgo.serial, [ep(adb)])
    text = str(err.value)
    assert text.startswith(f"device {ginkgo.serial}: is {state}")
    assert fix in text
    assert "\n" not in text
    assert err.value.exit_code == ExitCode.ENVIRONMENT


def test_unknown_serial_and_dead_server(adb: FakeAdbServer) -> None:
    with pytest.raises(DeviceError, match="device nope: not attached"):
        open_session("nope", [ep(adb)])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = AdbEndpoint("127.0.0.1", s.getsockname()[1])
    with pytest.raises(DeviceError, match="no adb server answers"):
        list_devices([dead])


def test_endpoint_parsing() -> None:
    assert AdbEndpoint.parse("10.0.0.2:5037") == AdbEndpoint("10.0.0.2", 5037)
    with pytest.raises(UsageError):
        AdbEndpoint.parse("10.0.0.2")


def test_harness_devices_lists_both_servers(adb: FakeAdbServer, remote_adb: FakeAdbServer,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    assert main(["devices", "--json", "--adb", remote_adb.address]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["serial"] for r in rows] == ["a1b2c3d4", "1A2B3C4D5E6F7G", "f00dcafe"]
    assert rows[2]["adb"] == remote_adb.address
    assert rows[2]["build_type"] == "userdebug"
    assert main(["devices", "--adb", remote_adb.address]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("a1b2c3d4  Xiaomi Redmi Note 8  Android 10 (SDK 29)  arm64-v8a  "
                               "root: su  ")
    assert lines[2].startswith("1A2B3C4D5E6F7G  Google Pixel 6  Android 14 (SDK 34)  arm64-v8a  "
                               "root: none  ")
    assert "f00dcafe  Xiaomi Redmi Note 8/8T  Android 11 (SDK 30)  arm64-v8a  root: none (adb " \
           f"root possible)  (adb {remote_adb.address})" in lines


def test_harness_devices_no_server_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["devices", "--no-local", "--adb", f"127.0.0.1:{port}"]) == 4
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"127.0.0.1:{port}" in err


def test_no_device_on_the_server_is_one_line(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeAdbServer() as empty:
        with pytest.raises(DeviceError, match="no device ready on adb server") as err:
            open_session(None, [ep(empty)])
        assert err.value.exit_code == ExitCode.ENVIRONMENT
        monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(empty.port))
        assert main(["provision", "--frida-server", "x"]) == 4
        assert main(["devices"]) == 0
    err_text = capsys.readouterr().err.strip()
    assert err_text.startswith("harness provision: device (none): no device ready")
    assert "\n" not in err_text


def test_two_devices_need_a_serial(adb: FakeAdbServer) -> None:
    with pytest.raises(DeviceError, match="2 devices ready"):
        open_session(None, [ep(adb)])


def test_harness_devices_lists_an_unauthorized_phone_with_its_state(
        adb: FakeAdbServer, ginkgo: FakePhone, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    ginkgo.state = "unauthorized"
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    assert main(["devices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"a1b2c3d4  unauthorized  (adb 127.0.0.1:{adb.port})"
    assert lines[1].startswith("1A2B3C4D5E6F7G  Google Pixel 6  Android 14 (SDK 34)  arm64-v8a")
    assert lines[2] == ("    build google/oriole/oriole:14/UP1A.231105.003.A1/11010805:user/"
                        "release-keys  incremental 11010805")

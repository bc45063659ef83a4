"""The AndroidDevice facade (the Device protocol), against the fakes."""

from __future__ import annotations

import struct
from pathlib import Path

import frida
import pytest

from harness.device.android import AndroidDevice
from harness.device.android_adb import AdbEndpoint
from harness.device.base import Device, Target
from harness.errors import DeviceError
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone

MINT = Target(package="com.mi.globalbrowser.mini")


def frida_file(tmp_path: Path) -> Path:
    path = tmp_path / f"frida-server-{frida.__version__}-android-arm64"
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, 183)
    path.write_bytes(header + f"frida-version={frida.__version__}".encode() + bytes(4096))
    return path


def ep(server: FakeAdbServer) -> list[AdbEndpoint]:
    return [AdbEndpoint("127.0.0.1", server.port)]


def test_implements_the_device_protocol(adb: FakeAdbServer, ginkgo: FakePhone,
                                        tmp_path: Path) -> None:
    dev = AndroidDevice(ginkgo.serial, ep(adb), frida_server=frida_file(tmp_path), run_tag="t1")
    assert isinstance(dev, Device)
    with dev:
        assert dev.info().model == "Redmi Note 8"
        assert {i.name: i.value for i in dev.identifiers()}["imei"] == fp.IMEI
        counters = dev.egress_counters(MINT, [])
        assert counters is not None
        assert counters.source == "/proc/net/xt_qtaguid/stats"
        with dev.block_quic(MINT) as how:
            assert how is not None
            assert how.startswith("iptables+ip6tables: UDP 443/80 rejected for uid 10187")
            assert "egh_t1" in ginkgo.iptables["iptables"]
        assert "egh_t1" not in ginkgo.iptables["iptables"]
        assert len(adb.forwards) == 1
        with pytest.raises(DeviceError, match="not answering through adb forward"):
            dev.frida_device()
    assert adb.forwards == []
    assert not any(n.endswith("frida-server") for n in ginkgo.processes.values())


def test_unrooted_pixel_blocks_quic_with_chrome_flags(adb: FakeAdbServer,
                                                      pixel: FakePhone) -> None:
    dev = AndroidDevice(pixel.serial, ep(adb))
    with dev.block_quic(Target(package="com.android.chrome")) as how:
        assert how is not None
        assert how.startswith("chrome-command-line: --disable-quic")
    with dev.block_quic(Target(package="org.mozilla.firefox")) as how:
        assert how is None


def test_entering_without_frida_server_is_one_clear_error(adb: FakeAdbServer, pixel: FakePhone,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(tmp_path))
    with pytest.raises(DeviceError, match="device 1A2B3C4D5E6F7G: frida-server missing"), \
            AndroidDevice(pixel.serial, ep(adb)):
        pass
    assert adb.forwards == []


def test_attach_running_finds_the_apps_processes_or_says_it_is_not_running(
        adb: FakeAdbServer, pixel: FakePhone) -> None:
    dev = AndroidDevice(pixel.serial, ep(adb))
    with pytest.raises(DeviceError, match=r"com\.android\.chrome is not running"):
        dev.attach_running("com.android.chrome", lambda pid, name: None)
    pixel.processes.update({7001: "com.android.chrome",
                            7002: "com.android.chrome:sandboxed_process0:org.chromium.content."
                                  "app.SandboxedProcessService0:0",
                            7003: "com.android.chromex"})
    seen: list[tuple[int, str]] = []
    assert dev.attach_running("com.android.chrome",
                              lambda pid, name: seen.append((pid, name))) == [7001, 7002]
    assert seen[1][1].startswith("com.android.chrome:sandboxed_process0")

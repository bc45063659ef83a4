"""frida-server provisioning against the fake adb server: real sync pushes, real forwards."""

from __future__ import annotations

import struct
from pathlib import Path

import frida
import pytest

from harness.cli import main
from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_frida import FridaServer, elf_arch
from harness.errors import DeviceError, InputError
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakeFile, FakePhone

HOST = frida.__version__


def fake_elf(machine: int, version: str, size: int = 200_000) -> bytes:
    """An ELF64 header for ``machine`` and a body that tells the fake phone its version."""
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, machine)
    body = f"frida-version={version}".encode()
    return header + body + bytes(size - len(header) - len(body))


@pytest.fixture
def arm64_server(tmp_path: Path) -> Path:
    path = tmp_path / f"frida-server-{HOST}-android-arm64"
    path.write_bytes(fake_elf(183, HOST))
    return path


def test_elf_arch_reads_e_machine(tmp_path: Path) -> None:
    assert elf_arch(fake_elf(183, HOST), path="x") == "arm64"
    assert elf_arch(fake_elf(40, HOST), path="x") == "arm"
    with pytest.raises(InputError, match="not an ELF"):
        elf_arch(b"\xfd7zXZ\x00" + bytes(30), path="frida-server.xz")


def test_push_lands_the_exact_bytes_and_checks_version(
        ginkgo_session: AdbSession, ginkgo: FakePhone, adb: FakeAdbServer,
        arm64_server: Path) -> None:
    server = FridaServer(ginkgo_session)
    assert server.provision(arm64_server) == HOST
    pushed = ginkgo.files["/data/local/tmp/frida-server"]
    assert pushed.data == arm64_server.read_bytes()
    assert pushed.mode & 0o777 == 0o755
    assert (ginkgo.serial, "/data/local/tmp/frida-server", len(pushed.data)) in adb.wire.pushes
    assert "/data/local/tmp/frida-server --version" in ginkgo.commands


def test_wrong_cpu_is_refused_before_pushing(ginkgo_session: AdbSession, ginkgo: FakePhone,
                                             tmp_path: Path) -> None:
    x86 = tmp_path / f"frida-server-{HOST}-android-x86_64"
    x86.write_bytes(fake_elf(62, HOST))
    with pytest.raises(InputError, match="built for x86_64, device a1b2c3d4 is arm64"):
        FridaServer(ginkgo_session).provision(x86)
    assert "/data/local/tmp/frida-server" not in ginkgo.files


def test_other_version_in_the_name_is_refused(ginkgo_session: AdbSession,
                                              tmp_path: Path) -> None:
    old = tmp_path / "frida-server-16.1.4-android-arm64"
    old.write_bytes(fake_elf(183, "16.1.4"))
    with pytest.raises(DeviceError, match=f"16.1.4, host frida is {HOST}") as err:
        FridaServer(ginkgo_session).provision(old)
    assert err.value.serial == "a1b2c3d4"


def test_version_check_on_the_device_fires_on_a_mismatch(
        ginkgo_session: AdbSession, ginkgo: FakePhone, tmp_path: Path) -> None:
    renamed = tmp_path / "frida-server"
    renamed.write_bytes(fake_elf(183, "16.0.0"))
    with pytest.raises(DeviceError, match=f"version 16.0.0, host frida is {HOST}"):
        FridaServer(ginkgo_session).provision(renamed)
    assert "/data/local/tmp/frida-server" in ginkgo.files  # pushed, then found wrong


def test_missing_server_says_how_to_get_one(ginkgo_session: AdbSession,
                                            monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(tmp_path))
    with pytest.raises(DeviceError) as err:
        FridaServer(ginkgo_session).provision()
    text = str(err.value)
    assert text.startswith("device a1b2c3d4: frida-server missing")
    assert f"frida-server-{HOST}-android-arm64" in text
    assert "\n" not in text


def test_cached_file_is_used_when_none_given(ginkgo_session: AdbSession, ginkgo: FakePhone,
                                             monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(tmp_path))
    (tmp_path / "frida-server").mkdir()
    (tmp_path / "frida-server" / f"frida-server-{HOST}-android-arm64").write_bytes(
        fake_elf(183, HOST))
    assert FridaServer(ginkgo_session).provision() == HOST
    assert ginkgo.files["/data/local/tmp/frida-server"].data.startswith(b"\x7fELF")


def test_start_as_root_forward_and_clean_connect_error(
        ginkgo_session: AdbSession, ginkgo: FakePhone, adb: FakeAdbServer,
        arm64_server: Path) -> None:
    server = FridaServer(ginkgo_session)
    server.provision(arm64_server)
    with server:
        assert "su -c '/data/local/tmp/frida-server -D -l 127.0.0.1:27042'" in ginkgo.commands
        assert server.started_pid in ginkgo.processes
        forward = next(f for f in adb.forwards if f.serial == ginkgo.serial)
        assert (forward.local, forward.remote) == (f"tcp:{server.local_port}", "tcp:27042")
        # No real frida-server can run behind the fake: the connect fails, cleanly, after
        # really going through the forwarded port.
        with pytest.raises(DeviceError, match="frida-server is not answering through adb "
                                              "forward"):
            server.frida_device()
        assert forward.connections >= 1
    assert not adb.forwards
    assert not any(n.endswith("frida-server") for n in ginkgo.processes.values())


def test_no_root_is_one_clear_error(pixel_session: AdbSession, pixel: FakePhone,
                                    tmp_path: Path) -> None:
    pixel.files["/data/local/tmp/frida-server"] = FakeFile(fake_elf(183, HOST), mode=0o100755)
    with pytest.raises(DeviceError, match="device 1A2B3C4D5E6F7G: no root") as err:
        FridaServer(pixel_session).__enter__()
    assert err.value.exit_code == 4


def test_remote_adb_server_forward(remote_adb: FakeAdbServer, arrow: FakePhone,
                                   tmp_path: Path) -> None:
    session = AdbSession(AdbEndpoint("127.0.0.1", remote_adb.port), arrow.serial)
    session.adb_root()
    path = tmp_path / "fs"
    path.write_bytes(fake_elf(183, HOST))
    server = FridaServer(session)
    server.provision(path)
    with server:
        assert remote_adb.forwards[0].local == f"tcp:{server.local_port}"
    assert "/data/local/tmp/frida-server -D -l 127.0.0.1:27042" in arrow.commands


def test_harness_provision_command(adb: FakeAdbServer, arm64_server: Path,
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    assert main(["provision", "--device", "a1b2c3d4", "--frida-server", str(arm64_server)]) == 0
    assert f"frida-server {HOST} (arm64)" in capsys.readouterr().out
    assert main(["provision", "--device", "a1b2c3d4", "--start",
                 "--frida-server", str(arm64_server)]) == 4
    err = capsys.readouterr().err.strip()
    assert err.startswith("harness provision: device a1b2c3d4: frida-server is not answering")


def test_a_matching_server_elsewhere_on_the_device_is_found(
        ginkgo_session: AdbSession, ginkgo: FakePhone, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(tmp_path))
    ginkgo.files["/data/local/tmp/frida-server-16.0.0"] = FakeFile(
        fake_elf(183, "16.0.0"), mode=0o100755)
    ginkgo.files[f"/data/local/tmp/frida-server-{HOST}-android-arm64"] = FakeFile(
        fake_elf(183, HOST), mode=0o100755)
    ginkgo.files["/data/local/tmp/frida-server.xz"] = FakeFile(b"\xfd7zXZ", mode=0o100644)
    server = FridaServer(ginkgo_session)
    assert server.candidates() == ["/data/local/tmp/frida-server-16.0.0",
                                   f"/data/local/tmp/frida-server-{HOST}-android-arm64"]
    assert server.provision() == HOST
    assert server.device_path == f"/data/local/tmp/frida-server-{HOST}-android-arm64"


def test_provision_through_a_remote_server_on_a_chosen_port(
        adb: FakeAdbServer, remote_adb: FakeAdbServer, arrow: FakePhone, arm64_server: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb.port))
    arrow.adbd_root = True  # `adb root` done on the remote machine
    assert main(["provision", "--device", arrow.serial, "--adb", remote_adb.address,
                 "--frida-server", str(arm64_server), "--start", "--port", "27555"]) == 4
    # pushed through the remote server, started on the chosen port, forwarded there, and the
    # connection attempt went through that forward (nothing answers behind the fake)
    assert arrow.files["/data/local/tmp/frida-server"].data == arm64_server.read_bytes()
    assert "/data/local/tmp/frida-server -D -l 127.0.0.1:27555" in arrow.commands
    assert any(r.startswith(f"host-serial:{arrow.serial}:forward:") and r.endswith(";tcp:27555")
               for r in remote_adb.wire.requests), remote_adb.wire.requests
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"harness provision: device {arrow.serial}: frida-server is not "
                          f"answering through adb forward 127.0.0.1:")
    assert "-> tcp:27555" in err
    assert remote_adb.forwards == []
    assert adb.forwards == []

"""Failures on the phone path read as one line, exit code 4, naming the serial (the CLI).

Each case goes through `harness run SCENARIO --device SERIAL --app PACKAGE` (and `harness
provision`) against the fake adb server, exactly as a user would meet it.
"""

from __future__ import annotations

import json
import socket
import struct
from pathlib import Path

import frida
import pytest

from harness.cli import main
from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_quic import QuicFirewall
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakeFile, FakePhone

ROOT = Path(__file__).resolve().parents[2]
BROWSING = str(ROOT / "scenarios" / "browsing.yaml")


def elf(version: str) -> bytes:
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, 183)
    return header + f"frida-version={version}".encode()


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert "Traceback" not in err
    return err


@pytest.fixture(autouse=True)
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(tmp_path / "cache"))


def run(adb: FakeAdbServer | str, serial: str, package: str, tmp_path: Path,
        *extra: str) -> int:
    address = adb if isinstance(adb, str) else adb.address
    return main(["run", BROWSING, "--device", serial, "--app", package, "--adb", address,
                 "--out", str(tmp_path / "runs"), *extra])


def test_no_adb_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert run(f"127.0.0.1:{port}", "a1b2c3d4", "com.android.chrome", tmp_path) == 4
    assert one_line(capsys).startswith(f"harness run: device 127.0.0.1:{port}: no adb server "
                                       f"answers at 127.0.0.1:{port}")


def test_no_such_device(adb: FakeAdbServer, tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    assert run(adb, "0000dead", "com.android.chrome", tmp_path) == 4
    assert one_line(capsys).startswith(f"harness run: device 0000dead: not attached to adb "
                                       f"server {adb.address}")


@pytest.mark.parametrize(("state", "fix"), [("offline", "adb reconnect"),
                                            ("unauthorized", "Allow USB debugging")])
def test_device_not_ready(adb: FakeAdbServer, ginkgo: FakePhone, tmp_path: Path, state: str,
                          fix: str, capsys: pytest.CaptureFixture[str]) -> None:
    ginkgo.state = state
    assert run(adb, ginkgo.serial, "com.mi.globalbrowser.mini", tmp_path) == 4
    err = one_line(capsys)
    assert err.startswith(f"harness run: device {ginkgo.serial}: is {state} on adb server")
    assert fix in err


def test_app_not_installed(adb: FakeAdbServer, ginkgo: FakePhone, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(adb, ginkgo.serial, "com.example.absent", tmp_path) == 4
    assert one_line(capsys).startswith(f"harness run: device {ginkgo.serial}: app "
                                       "com.example.absent is not installed (fix: install it")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_no_root_for_frida_server(adb: FakeAdbServer, pixel: FakePhone, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    server = tmp_path / f"frida-server-{frida.__version__}-android-arm64"
    server.write_bytes(elf(frida.__version__))
    assert run(adb, pixel.serial, "com.android.chrome", tmp_path,
               "--frida-server", str(server)) == 4
    err = one_line(capsys)
    assert err.startswith(f"harness run: device {pixel.serial}: no root: frida-server needs root")
    assert "adb root" in err
    assert adb.forwards == []


def test_frida_server_missing(adb: FakeAdbServer, pixel: FakePhone, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert run(adb, pixel.serial, "com.android.chrome", tmp_path) == 4
    err = one_line(capsys)
    assert err.startswith(f"harness run: device {pixel.serial}: frida-server missing at "
                          "/data/local/tmp/frida-server")
    assert f"frida-server-{frida.__version__}-android-arm64" in err


def test_frida_server_of_another_version(adb: FakeAdbServer, ginkgo: FakePhone, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    ginkgo.files["/data/local/tmp/frida-server"] = FakeFile(elf("16.1.4"), mode=0o100755)
    assert run(adb, ginkgo.serial, "com.mi.globalbrowser.mini", tmp_path) == 4
    assert one_line(capsys).startswith(
        f"harness run: device {ginkgo.serial}: frida-server version 16.1.4, host frida is "
        f"{frida.__version__}")
    renamed = tmp_path / "frida-server-16.1.4-android-arm64"
    renamed.write_bytes(elf("16.1.4"))
    assert main(["provision", "--device", ginkgo.serial, "--adb", adb.address, "--no-local",
                 "--frida-server", str(renamed)]) == 4
    assert one_line(capsys).startswith(
        f"harness provision: device {ginkgo.serial}: frida-server-16.1.4-android-arm64 is "
        f"frida-server 16.1.4, host frida is {frida.__version__}")


def test_a_lab_app_on_a_phone_is_a_usage_error(adb: FakeAdbServer, ginkgo: FakePhone,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run(adb, ginkgo.serial, "lab:mint-3.4.0", tmp_path) == 2
    assert "give its package with --app" in one_line(capsys)


def test_a_run_that_fails_midway_leaves_the_phone_as_it_was(
        adb: FakeAdbServer, ginkgo: FakePhone, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """frida-server starts but nothing answers behind it (no portal here): the run stops after
    QUIC rules, reverse and forward are in place, and every one of them comes down."""
    server = tmp_path / f"frida-server-{frida.__version__}-android-arm64"
    server.write_bytes(elf(frida.__version__))
    old = AdbSession(AdbEndpoint("127.0.0.1", adb.port), ginkgo.serial)
    QuicFirewall(old, 10187, "crashed-before").install()  # an earlier run that died
    scenario = tmp_path / "one.yaml"
    scenario.write_text("name: one\nphases:\n  - name: p\n    steps:\n      - launch\n",
                        encoding="utf-8")
    assert main(["run", str(scenario), "--device", ginkgo.serial, "--app",
                 "com.mi.globalbrowser.mini", "--adb", adb.address, "--frida-server",
                 str(server), "--out", str(tmp_path / "runs")]) == 4
    progress, error = capsys.readouterr().err.strip().splitlines()
    assert progress.startswith(f"leftover QUIC rules of an earlier run on {ginkgo.serial}")
    assert error.startswith(f"harness run: device {ginkgo.serial}: frida-server is not "
                            "answering through adb forward")
    installed = [c for c in ginkgo.commands if "tables -w -N egh_2" in c]
    assert len(installed) == 2  # iptables and ip6tables chains were really put in place
    # this run's chains are gone; the earlier run's are left for `harness doctor --device`
    assert {t: sorted(chains) for t, chains in ginkgo.iptables.items()} == {
        "iptables": ["OUTPUT", "egh_crashed-before"],
        "ip6tables": ["OUTPUT", "egh_crashed-before"]}
    assert adb.forwards == []
    assert ginkgo.reverse_ports == {}
    assert not any(n.endswith("frida-server") for n in ginkgo.processes.values())
    (run_dir,) = (tmp_path / "runs").iterdir()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed"
    assert info["quic_blocking"].startswith("iptables+ip6tables")
    assert info["quic_leftovers"] == ["ip6tables egh_crashed-before",
                                      "iptables egh_crashed-before"]

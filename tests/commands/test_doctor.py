"""`harness doctor`: real checks on this machine, a tool taken off PATH, a phone on a fake adb."""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import frida
import pytest

from harness import diagnose
from harness.cli import main
from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_quic import QuicFirewall
from harness.diagnose import (
    Check,
    Status,
    check_agent_build,
    check_cache_dir,
    check_frida_device,
    check_node_modules,
)
from harness.errors import ExitCode
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakeFile, FakePhone

REPO = Path(__file__).resolve().parents[2]


def doctor_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Check]]:
    code = main(["doctor", "--json", *argv])
    report = json.loads(capsys.readouterr().out)
    checks = {c["name"]: Check(c["name"], c["ok"], c["required"], c["detail"], c["fix"])
              for c in report["checks"]}
    assert report["ok"] == all(c.ok for c in checks.values() if c.required)
    return code, checks


def test_this_machine_frida_and_the_agent_work(capsys: pytest.CaptureFixture[str]) -> None:
    code, checks = doctor_json(capsys)
    for name in ("python", "frida", "frida-local", "agent-build", "agent-abi", "cache-dir",
                 "hooks-npm", *(name for name, *_ in diagnose.COMPILED)):
        assert checks[name].ok, checks[name]
        assert checks[name].fix == ""
    assert frida.__version__ in checks["frida"].detail
    assert checks["agent-abi"].detail.startswith("agent ABI ")
    assert "killed pid" in checks["frida-local"].detail
    required_ok = all(c.ok for c in checks.values() if c.required)
    assert code == (ExitCode.OK if required_ok else ExitCode.ENVIRONMENT)


def test_the_table_is_aligned(capsys: pytest.CaptureFixture[str]) -> None:
    main(["doctor"])
    lines = capsys.readouterr().out.splitlines()
    rows = [line for line in lines if line.split()[:1] in (["ok"], ["MISSING"], ["WARN"])]
    assert len(rows) >= 12
    # the name column starts at the same offset on every row, detail too
    name_at = {line.index(line.split()[1]) for line in rows}
    assert len(name_at) == 1
    assert lines[-1].startswith(("all required checks ok", "1 required", "2 required"))


def test_node_taken_off_path_is_missing_with_its_fix(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("npm", "java", "javac", "gcc", "chromium"):
        found = shutil.which(tool)
        if found is not None:
            (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir), "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "harness", "doctor"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == ExitCode.ENVIRONMENT, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    (row,) = [i for i, line in enumerate(lines) if line.split()[:2] == ["MISSING", "node"]]
    assert "node is not on PATH" in lines[row]
    assert lines[row + 1].strip() == "fix: apt-get install nodejs (Node 18 or newer)"
    assert "required check(s) MISSING" in lines[-1]

    proc = subprocess.run([sys.executable, "-m", "harness", "doctor", "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == ExitCode.ENVIRONMENT
    report = json.loads(proc.stdout)
    assert report["ok"] is False
    node = next(c for c in report["checks"] if c["name"] == "node")
    assert node["status"] == "MISSING"
    assert node["required"] is True
    # the agent does not need node to build (frida.Compiler): still ok
    assert next(c for c in report["checks"] if c["name"] == "agent-build")["ok"] is True


def test_an_agent_of_another_abi_is_refused() -> None:
    checks = check_frida_device("rpc.exports = { abiVersion() { return 999; } };")
    assert [c.name for c in checks] == ["frida-local", "agent-abi"]
    assert checks[0].ok
    assert not checks[1].ok
    assert checks[1].status is Status.MISSING
    assert "agent ABI 999" in checks[1].detail
    assert "rebuild the agent" in checks[1].fix


def test_missing_node_modules_and_unwritable_cache(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = tmp_path / "hooks"
    (hooks / "src").mkdir(parents=True)
    shutil.copy(REPO / "hooks" / "package.json", hooks / "package.json")
    (hooks / "src" / "index.ts").write_text("export {};\n")
    check = check_node_modules(hooks)
    assert not check.ok
    assert check.required
    assert "frida-java-bridge" in check.detail
    assert check.fix == f"cd {hooks} && npm ci"
    # installed, but not the version the lock file names
    shutil.copy(REPO / "hooks" / "package-lock.json", hooks / "package-lock.json")
    (hooks / "node_modules" / "frida-java-bridge").mkdir(parents=True)
    lock = json.loads((hooks / "package-lock.json").read_text())
    hidden = {"packages": {k: {**v, "version": "0.0.1"} for k, v in lock["packages"].items()
                           if k}}
    (hooks / "node_modules" / ".package-lock.json").write_text(json.dumps(hidden))
    stale = check_node_modules(hooks)
    assert not stale.ok
    assert "frida-java-bridge 0.0.1 (lock: " in stale.detail
    assert stale.fix == f"cd {hooks} && npm ci"
    shutil.rmtree(hooks / "node_modules")
    build, source = check_agent_build(hooks)
    assert not build.ok
    assert source is None
    assert build.fix == f"cd {hooks} && npm ci"

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    cache = check_cache_dir()
    assert not cache.ok
    assert "not writable" in cache.detail
    assert cache.fix == "set XDG_CACHE_HOME to a writable directory"


def _frida_binary(version: str) -> FakeFile:
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, 183)
    return FakeFile(header + f"frida-version={version}".encode(), mode=0o100755)


@pytest.fixture
def phones() -> Iterator[tuple[FakeAdbServer, FakePhone, FakePhone]]:
    ginkgo, pixel = fp.ginkgo_miui12(), fp.pixel6_android14()
    with FakeAdbServer(ginkgo, pixel) as server:
        yield server, ginkgo, pixel


def test_device_checks_and_leftover_quic_rules_cleaned(
        phones: tuple[FakeAdbServer, FakePhone, FakePhone],
        capsys: pytest.CaptureFixture[str]) -> None:
    server, ginkgo, _ = phones
    ginkgo.files["/data/local/tmp/frida-server"] = _frida_binary(frida.__version__)
    QuicFirewall(AdbSession(AdbEndpoint("127.0.0.1", server.port), ginkgo.serial), fp.MINT_UID,
                 "crashed-run").install()  # a run that crashed left its chain
    adb = f"127.0.0.1:{server.port}"

    code, checks = doctor_json(capsys, "--device", ginkgo.serial, "--adb", adb, "--no-clean")
    device = {n: c for n, c in checks.items() if n.startswith("device:")}
    assert list(device) == ["device:adb-server", "device:device", "device:build", "device:root",
                            "device:frida-server", "device:quic-rules"]
    assert not device["device:quic-rules"].ok
    assert "egh_crashed-run" in device["device:quic-rules"].detail
    assert code == ExitCode.ENVIRONMENT
    assert "egh_crashed-run" in ginkgo.iptables["iptables"]

    code, checks = doctor_json(capsys, "--device", ginkgo.serial, "--adb", adb)
    assert checks["device:quic-rules"].ok
    assert "removed leftover QUIC rules" in checks["device:quic-rules"].detail
    assert "egh_crashed-run" not in ginkgo.iptables["iptables"]
    assert all(c.ok for n, c in checks.items() if n.startswith("device:"))
    required_ok = all(c.ok for c in checks.values() if c.required)
    assert code == (ExitCode.OK if required_ok else ExitCode.ENVIRONMENT)


def test_an_unrooted_phone_is_missing_root_and_frida_server(
        phones: tuple[FakeAdbServer, FakePhone, FakePhone],
        capsys: pytest.CaptureFixture[str]) -> None:
    server, _, pixel = phones
    main(["doctor", "--device", pixel.serial, "--adb", f"127.0.0.1:{server.port}"])
    out = capsys.readouterr().out
    rows = {line.split()[1]: line for line in out.splitlines()
            if line.split()[:1] in (["ok"], ["MISSING"], ["WARN"])}
    assert rows["device:root"].startswith("MISSING")
    assert rows["device:frida-server"].startswith("MISSING")
    assert f"frida-server-{frida.__version__}-android-arm64" in out
    code, _ = doctor_json(capsys, "--device", pixel.serial, "--adb", f"127.0.0.1:{server.port}")
    assert code == ExitCode.ENVIRONMENT


def test_no_adb_server_is_one_missing_line_with_its_fix(
        capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    code, checks = doctor_json(capsys, "--device", "abc", "--adb", f"127.0.0.1:{port}")
    assert code == ExitCode.ENVIRONMENT
    server = checks["device:adb-server"]
    assert not server.ok
    assert f"127.0.0.1:{port}" in server.detail
    assert server.fix
    assert "fix:" not in server.detail
    assert "device:device" not in checks

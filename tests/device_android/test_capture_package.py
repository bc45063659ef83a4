"""`harness capture --device SERIAL --package PKG` against the fake Redmi and a Frida portal.

"Chrome" is a real local TLS client joined to the portal behind frida-server's port; the
capture attaches to it (a portal cannot spawn), records its requests, and ends when the app is
force-stopped (its processes gone from `ps`).
"""

from __future__ import annotations

import shlex
import sys
import threading
import time
from pathlib import Path

import frida
import pytest

from harness.capture.rundir import CaptureReader, RunDir
from harness.cli import main
from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.testing.certs import make_pki
from harness.testing.tls_server import TLSServer
from tests.device_android.fakes import fake_phones
from tests.device_android.test_capture_through_forward import CLIENT
from tests.device_android.test_frida_server import fake_elf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.frida, pytest.mark.slow]


def recorded(runs: Path) -> bool:
    """Whether the capture in progress has recorded the victim's request yet."""
    for db in runs.glob("*/capture.sqlite"):
        with CaptureReader(db) as reader:
            if any(b"canary-7f3a91" in (e.data or b"") for e in reader.events()):
                return True
    return False


def test_capture_a_package_until_it_is_stopped(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pki = make_pki(tmp_path / "pki")
    client = tmp_path / "client.py"
    client.write_text(CLIENT, encoding="utf-8")
    binary = tmp_path / "frida-server"
    binary.write_bytes(fake_elf(183, frida.__version__))
    codes: list[int] = []
    with TLSServer(pki) as server:
        victim = shlex.join([sys.executable, str(client), str(server.port), str(pki.ca_cert)])
        with fake_phones(tmp_path, "--victim", victim) as ports:
            adb = f"127.0.0.1:{ports['local']}"
            capture = threading.Thread(target=lambda: codes.append(main([
                "capture", "--device", "a1b2c3d4", "--package", "com.android.chrome", "--adb",
                adb, "--frida-server", str(binary), "--needle", "canary=canary-7f3a91",
                "--timeout", "60", "--out", str(tmp_path / "runs")])))
            capture.start()
            session = AdbSession(AdbEndpoint("127.0.0.1", int(ports["local"])), "a1b2c3d4")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not recorded(tmp_path / "runs"):
                time.sleep(0.5)
            session.shell(["am", "force-stop", "com.android.chrome"], check=True)
            capture.join(timeout=60)
            assert not capture.is_alive()
    out = capsys.readouterr()
    assert codes == [0], out.err
    (run_path,) = (tmp_path / "runs").iterdir()
    run = RunDir.open(run_path)
    info = run.load_info()
    assert info.target["package"] == "com.android.chrome"
    assert str(info.extra["quic_blocking"]).startswith("iptables+ip6tables")
    assert str(info.extra["capture_mode"]).startswith("attach: ")
    (phase,) = info.phases
    assert (phase.name, phase.complete) == ("capture", True)
    with CaptureReader(run.capture_db) as reader:
        sent = b"".join(e.data or b"" for e in reader.events() if e.direction == "out")
    assert b"GET /canary-7f3a91 HTTP/1.1" in sent
    assert "canary" in out.out  # the summary's needle line

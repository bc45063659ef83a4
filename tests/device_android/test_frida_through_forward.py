"""Frida's real protocol through adb forward: fake adb server → fake phone → a Frida portal.

The fake phone's frida-server port tunnels to a real ``frida.PortalService`` that a local
``sleep`` process joined (real injection). Through the device code's forward, Frida enumerates,
attaches and runs a script in that process. The portal, the victim and the injection run in a
child process with a TMPDIR of their own, so Frida's helper can be stopped by pid afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import frida
import pytest

from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_frida import FridaServer
from tests.device_android.fakes import fake_phones
from tests.device_android.test_frida_server import fake_elf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.frida


@pytest.fixture
def fakes(tmp_path: Path) -> Iterator[dict[str, str]]:
    with fake_phones(tmp_path) as ports:
        yield ports


def test_attach_and_script_through_the_forward(fakes: dict[str, str], tmp_path: Path) -> None:
    session = AdbSession(AdbEndpoint("127.0.0.1", int(fakes["local"])), "a1b2c3d4")
    binary = tmp_path / f"frida-server-{frida.__version__}-android-arm64"
    binary.write_bytes(fake_elf(183, frida.__version__))
    server = FridaServer(session)
    server.provision(binary)
    victim = int(fakes["victim"])
    with server:
        device = server.frida_device()
        assert victim in [p.pid for p in device.enumerate_processes()]
        attached = device.attach(victim)
        try:
            script = attached.create_script("send(Process.id)")
            got: list[object] = []
            script.on("message", lambda message, data: got.append(message))
            script.load()
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                time.sleep(0.05)
            script.unload()
        finally:
            attached.detach()
        assert got == [{"type": "send", "payload": victim}]


def test_through_a_remote_adb_server_after_adb_root(fakes: dict[str, str],
                                                    tmp_path: Path) -> None:
    session = AdbSession(AdbEndpoint("127.0.0.1", int(fakes["remote"])), "f00dcafe")
    assert "restarting adbd as root" in session.adb_root()
    binary = tmp_path / "frida-server"
    binary.write_bytes(fake_elf(183, frida.__version__))
    server = FridaServer(session)
    server.provision(binary)
    with server:
        pids = [p.pid for p in server.frida_device().enumerate_processes()]
    assert int(fakes["victim"]) in pids


def test_attach_to_the_running_app_found_with_ps(fakes: dict[str, str], tmp_path: Path) -> None:
    from harness.device.android import AndroidDevice

    binary = tmp_path / "frida-server"
    binary.write_bytes(fake_elf(183, frida.__version__))
    device = AndroidDevice("a1b2c3d4", [AdbEndpoint("127.0.0.1", int(fakes["local"]))],
                           frida_server=binary)
    payloads: list[object] = []

    def attach(pid: int, name: str) -> None:
        session = device.frida_device().attach(pid)
        script = session.create_script("send(Process.id)")
        script.on("message", lambda message, data: payloads.append(message.get("payload")))
        script.load()
        deadline = time.monotonic() + 10
        while not payloads and time.monotonic() < deadline:
            time.sleep(0.05)
        script.unload()
        session.detach()

    with device:
        assert device.attach_running("com.android.chrome", attach) == [int(fakes["victim"])]
    assert payloads == [int(fakes["victim"])]

"""The adb wire breaking, wedging or going away reads as a DeviceError naming the serial.

adbutils raises more than ``AdbError`` when the adb server's answer is cut short or garbled
(``EOFError``, ``ConnectionResetError``, ``ValueError``, ``AssertionError``, ``struct.error``);
it waits 600 s by default for a wedged server; and it runs its bundled ``adb start-server`` when
the server is gone. A hostile adb server (the fake one, with hooks that answer raw bytes) shows
the harness turns each into one line, exit 4, in bounded time, and never starts a server. Bad
``--adb``, ``$ANDROID_ADB_SERVER_PORT`` and ``--frida-server`` values are usage errors (exit 2).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import adbutils
import adbutils._adb as adbutils_adb
import adbutils._device_base as adbutils_device_base
import pytest

from harness.cli import main
from harness.device import android_adb
from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_discovery import device_info, list_devices
from harness.device.android_doctor import device_checks, local_endpoint
from harness.device.android_frida import FridaServer
from harness.errors import DeviceError, InputError, UsageError
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone
from harness.testing.fake_phones import ginkgo_miui12, kitkat_box

HostHook = Callable[[socket.socket, str], bool]
DevHook = Callable[[socket.socket, FakePhone, str], bool]


class HostileServer(FakeAdbServer):
    """The fake adb server, with hooks that may answer a request with raw bytes first.

    ``host_hook(conn, request)`` sees host requests, ``dev_hook(conn, phone, request)`` the
    request on a device transport; each returns True when it answered."""

    def __init__(self, *phones: FakePhone, host_hook: HostHook | None = None,
                 dev_hook: DevHook | None = None) -> None:
        super().__init__(*phones)
        self.host_hook = host_hook
        self.dev_hook = dev_hook
        self._local = threading.local()

    def _host(self, conn: socket.socket, req: str) -> None:
        if self.host_hook is not None and self.host_hook(conn, req):
            return
        super()._host(conn, req)

    def _read_request(self, conn: socket.socket) -> str:
        pending: str | None = getattr(self._local, "pending", None)
        if pending is not None:
            self._local.pending = None
            return pending
        return super()._read_request(conn)

    def _device_service(self, conn: socket.socket, phone: FakePhone) -> None:
        req = self._read_request(conn)
        if self.dev_hook is not None and self.dev_hook(conn, phone, req):
            return
        self._local.pending = req
        super()._device_service(conn, phone)


def block(data: bytes) -> bytes:
    return f"{len(data):04x}".encode() + data


def answer_shell(match: str, payload: bytes) -> DevHook:
    def hook(conn: socket.socket, phone: FakePhone, req: str) -> bool:
        if req.startswith("shell") and match in req:
            conn.sendall(payload)
            return True
        return False
    return hook


def reset_shell(conn: socket.socket, phone: FakePhone, req: str) -> bool:
    if req.startswith("shell") and "getprop" in req:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.sendall(b"OKAY\x01\x02\x00\x00\x00ab")
        conn.close()
        return True
    return False


def sync_closed(conn: socket.socket, phone: FakePhone, req: str) -> bool:
    if req == "sync:":
        conn.sendall(b"OKAY")
        conn.recv(4096)
        return True  # closed instead of answering STAT/LIST
    return False


@pytest.fixture
def no_start_server(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """What adbutils would run to start a server (nothing is run)."""
    started: list[list[str]] = []
    real = adbutils_adb.subprocess.run

    def run(*args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], list) and "start-server" in args[0]:
            started.append(args[0])
            return None
        return real(*args, **kwargs)

    monkeypatch.setattr(adbutils_adb.subprocess, "run", run)
    return started


@pytest.fixture
def ginkgo() -> FakePhone:
    return ginkgo_miui12()


def session_on(server: FakeAdbServer, phone: FakePhone) -> AdbSession:
    return AdbSession(AdbEndpoint("127.0.0.1", server.port), phone.serial)


# -- r1: errors from adbutils that are not AdbError -------------------------------------------

BROKEN_SHELL = [
    pytest.param(None, answer_shell("getprop", b"OKAY"), id="v2-closed-before-exit-packet"),
    pytest.param(None, answer_shell("getprop", b"OKAY\x01\x10\x00\x00\x00abc"),
                 id="v2-closed-mid-packet"),
    pytest.param(None, reset_shell, id="connection-reset"),
    pytest.param(None, answer_shell("getprop", b"FAILzzzz"), id="fail-non-hex-length"),
    pytest.param(kitkat_box, answer_shell("getprop", b"OKAY[a]: [b]\nX4EXIT:"),
                 id="v1-cut-after-exit-marker"),
]


@pytest.mark.parametrize(("make_phone", "hook"), BROKEN_SHELL)
def test_broken_shell_answer_is_a_device_error(
        make_phone: Callable[[], FakePhone] | None, hook: DevHook,
        no_start_server: list[list[str]]) -> None:
    phone = make_phone() if make_phone else ginkgo_miui12()
    with HostileServer(phone, dev_hook=hook) as server:
        session = session_on(server, phone)
        with pytest.raises(DeviceError, match=f"^device {phone.serial}: ") as info:
            device_info(session)
    assert "\n" not in str(info.value)
    assert not no_start_server


def test_garbage_server_version_is_a_device_error(ginkgo: FakePhone) -> None:
    def hook(conn: socket.socket, req: str) -> bool:
        if req == "host:version":
            conn.sendall(b"OKAY" + block(b"zz"))
            return True
        return False

    with HostileServer(ginkgo, host_hook=hook) as server, \
            pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: "):
        device_info(session_on(server, ginkgo))


def devices_garbage(conn: socket.socket, req: str) -> bool:
    if req.startswith("host:devices"):
        conn.sendall(b"OKAYzzzz")
        return True
    return False


def test_garbage_device_list_is_a_device_error(ginkgo: FakePhone) -> None:
    with HostileServer(ginkgo, host_hook=devices_garbage) as server, \
            pytest.raises(DeviceError, match=f"^device 127.0.0.1:{server.port}: "):
        list_devices([AdbEndpoint("127.0.0.1", server.port)])


def test_garbage_device_list_exits_4(ginkgo: FakePhone,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    with HostileServer(ginkgo, host_hook=devices_garbage) as server:
        code = main(["devices", "--no-local", "--adb", server.address])
    err = capsys.readouterr().err.strip()
    assert code == 4, err
    assert "\n" not in err
    assert "Traceback" not in err


def test_sync_closed_is_a_device_error(ginkgo: FakePhone) -> None:
    with HostileServer(ginkgo, dev_hook=sync_closed) as server:
        session = session_on(server, ginkgo)
        with pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: stat of /x failed"):
            session.stat("/x")
        with pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: pull of /x failed"):
            session.pull("/x")
        with pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: push to /x failed"):
            session.push(b"data", "/x")
        with pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: listing "):
            FridaServer(session).candidates()


def test_doctor_never_raises_on_a_broken_sync(ginkgo: FakePhone) -> None:
    with HostileServer(ginkgo, dev_hook=sync_closed) as server:
        checks = device_checks(ginkgo.serial, [server.address], False)
    assert any(not c.ok and ginkgo.serial in c.detail for c in checks), checks


def test_doctor_never_raises_on_a_garbage_device_list(ginkgo: FakePhone) -> None:
    with HostileServer(ginkgo, host_hook=devices_garbage) as server:
        checks = device_checks(ginkgo.serial, [server.address], False)
    assert [c.name for c in checks] == ["adb-server"]
    assert not checks[0].ok


# -- r3: a wedged adb server: the harness's timeout, not adbutils' 600 s ----------------------

@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(android_adb, "SHELL_TIMEOUT", 1.0)
    return 1.0


@pytest.fixture
def wedge() -> Iterator[threading.Event]:
    """Set at teardown: the stalled server threads then end."""
    release = threading.Event()
    yield release
    release.set()


def stall_host(release: threading.Event, suffix: str) -> HostHook:
    def hook(conn: socket.socket, req: str) -> bool:
        if req.startswith("host-serial:") and req.partition(":")[2].partition(":")[2] \
                .startswith(suffix):
            release.wait(15)
            return True
        return False
    return hook


def stall_device(release: threading.Event, prefix: str) -> DevHook:
    def hook(conn: socket.socket, phone: FakePhone, req: str) -> bool:
        if req.startswith(prefix):
            release.wait(15)
            return True
        return False
    return hook


def test_adbutils_default_timeout_is_what_the_harness_overrides() -> None:
    assert android_adb.ADBUTILS_DEFAULT_TIMEOUT == adbutils_device_base._DEFAULT_SOCKET_TIMEOUT


@pytest.mark.parametrize(("hook", "where", "action"), [
    pytest.param("host_hook", "features", lambda s: s.shell("id"), id="features"),
    pytest.param("host_hook", "forward", lambda s: s.forward(27042, 27042), id="forward"),
    pytest.param("dev_hook", "reverse:", lambda s: s.reverse(8080, 8080), id="reverse"),
    pytest.param("dev_hook", "reverse:", lambda s: s.reverse_remove(8080),
                 id="reverse-remove"),
])
def test_wedged_service_times_out(ginkgo: FakePhone, short_timeout: float,
                                  wedge: threading.Event, hook: str, where: str,
                                  action: Callable[[AdbSession], object]) -> None:
    """A host service (features, forward) or a device one (reverse) that never answers."""
    stall = stall_host(wedge, where) if hook == "host_hook" else stall_device(wedge, where)
    with HostileServer(ginkgo, **{hook: stall}) as server:  # type: ignore[arg-type]
        session = session_on(server, ginkgo)
        start = time.monotonic()
        with pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: "):
            action(session)
        assert time.monotonic() - start < 5 * short_timeout
        wedge.set()


def test_wedged_forward_remove_is_bounded(ginkgo: FakePhone, short_timeout: float,
                                          wedge: threading.Event) -> None:
    """Removing a forward ignores adb's answer (a missing forward is fine): it just ends."""
    with HostileServer(ginkgo, host_hook=stall_host(wedge, "killforward")) as server:
        session = session_on(server, ginkgo)
        start = time.monotonic()
        session.forward_remove(27042)
        assert time.monotonic() - start < 5 * short_timeout
        wedge.set()


# -- r2: the adb server goes away after the session opened ------------------------------------

def test_server_gone_never_starts_one(ginkgo: FakePhone,
                                      no_start_server: list[list[str]]) -> None:
    server = FakeAdbServer(ginkgo).__enter__()
    session = session_on(server, ginkgo)
    server.close()
    with pytest.raises(DeviceError, match=f"^device {ginkgo.serial}: "):
        device_info(session)
    assert no_start_server == []


def test_harness_client_never_starts_a_server(no_start_server: list[list[str]]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = android_adb.HarnessAdbClient("127.0.0.1", port, 1.0)
    with pytest.raises(adbutils.AdbError):
        client.list()
    assert no_start_server == []


# -- r16: bad adb server values on the command line -------------------------------------------

def test_bad_adb_server_port_env_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", "abc")
    assert main(["devices"]) == 2
    err = capsys.readouterr().err.strip()
    assert "ANDROID_ADB_SERVER_PORT" in err
    assert "\n" not in err


@pytest.mark.parametrize("value", ["²", "0", "65536", "0" * 4400 + "1"],
                         ids=["superscript", "zero", "too-big", "4401-digits"])
def test_out_of_range_adb_server_port_env(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", value)
    assert main(["devices"]) == 2


@pytest.mark.parametrize("text", [
    "a" * 64 + ":5037",
    "a..b:5037",
    "127.0.0.1:" + "0" * 4400 + "1",
    "127.0.0.1:000005037",
], ids=["long-label", "empty-label", "4401-digits", "9-digits"])
def test_bad_adb_option_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--adb"):
        AdbEndpoint.parse(text)


@pytest.mark.parametrize("text", [
    "a" * 64 + ":5037",
    "127.0.0.1:" + "0" * 4400 + "1",
], ids=["long-label", "4401-digits"])
def test_bad_adb_option_exits_2(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--no-local", "--adb", text]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("endpoint", [AdbEndpoint("a" * 64, 5037), AdbEndpoint("127.0.0.1", 70000)],
                         ids=["long-label", "port-out-of-range"])
def test_unreachable_endpoint_is_a_device_error(endpoint: AdbEndpoint) -> None:
    with pytest.raises(DeviceError, match="no adb server answers"):
        endpoint.client()


@pytest.mark.parametrize("value", ["0" * 4400 + "1", "70000", "abc"],
                         ids=["4401-digits", "too-big", "letters"])
def test_doctor_local_endpoint_falls_back(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", value)
    assert local_endpoint() == AdbEndpoint("127.0.0.1", 5037)


# -- r17: --frida-server FILE that cannot be read ---------------------------------------------

@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_frida_server_file_is_an_input_error(
        kind: str, ginkgo: FakePhone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EGRESS_HARNESS_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "frida-server" if kind == "missing" else tmp_path
    with FakeAdbServer(ginkgo) as server:
        session = session_on(server, ginkgo)
        with pytest.raises(InputError, match=str(path)):
            FridaServer(session).provision(path)
        code = main(["provision", "--no-local", "--adb", server.address, "--device",
                     ginkgo.serial, "--frida-server", str(path)])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert str(path) in err
    assert "\n" not in err

"""Device output the parsers did not expect: a safe "unavailable" or one DeviceError/InputError,
never a traceback (fuzz round 13: getprop, dumpsys package, xt_qtaguid, iptables -S, the
uiautomator2 agent's replies, an APK path that is no file)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_app import AppControl, parse_package_dump
from harness.device.android_ids import IdentifierReader
from harness.device.android_netstats import QTAGUID, parse_qtaguid_packets, read_counters
from harness.device.android_profile import Selector, find_profile, load_profile
from harness.device.android_quic import leftover_chains
from harness.device.android_steps import AndroidApp
from harness.errors import DeviceError, InputError
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone
from harness.testing.fake_phone_state import Outcome
from harness.testing.fake_uiautomator import FakeUiAutomator, UiNode, read_head

URL_BAR = "com.android.chrome:id/url_bar"
MINT = "com.mi.globalbrowser.mini"


def hostile(phone: FakePhone, match: str | Callable[[str], bool], out: Outcome) -> FakePhone:
    """``phone`` answering ``out`` to every shell command that contains ``match``."""
    real = phone.shell

    def shell(command: str) -> Outcome:
        if match(command) if callable(match) else match in command:
            with phone.lock:
                phone.commands.append(command)
            return out
        return real(command)

    phone.shell = shell  # type: ignore[method-assign]
    return phone


def session_of(server: FakeAdbServer, phone: FakePhone) -> AdbSession:
    return AdbSession(AdbEndpoint("127.0.0.1", server.port), phone.serial)


# -- r5: ro.build.version.sdk -------------------------------------------------------------------

@pytest.mark.parametrize("sdk", ["", "0", "abc", "²", "100", "-3"])
def test_an_odd_sdk_makes_subscriber_ids_unavailable(sdk: str) -> None:
    phone = fp.ginkgo_miui12()
    hostile(phone, "getprop ro.build.version.sdk", Outcome(f"{sdk}\n".encode()))
    with FakeAdbServer(phone) as server:
        ids = {i.name: i for i in IdentifierReader(session_of(server, phone)).read_all()}
    for name in ("imei", "imsi", "phone_number"):
        assert ids[name].value is None
        assert ids[name].unavailable is not None
        assert "SDK" in ids[name].unavailable
    assert ids["android_id"].value == fp.ANDROID_ID


# -- r7: dumpsys package userId ---------------------------------------------------------------

def test_a_non_numeric_user_id_is_not_installed() -> None:
    text = f"Package [{MINT}] (1a2b):\n    userId=abc\n"
    assert parse_package_dump(text, MINT) is None
    info = parse_package_dump(f"Package [{MINT}] (1a2b):\n    userId=abc appId=10187\n", MINT)
    assert info is not None
    assert info.uid == 10187
    phone = hostile(fp.ginkgo_miui12(), f"dumpsys package {MINT}", Outcome(text.encode()))
    with FakeAdbServer(phone) as server, pytest.raises(DeviceError, match="not installed"):
        AppControl(session_of(server, phone), MINT).info()


# -- r8: xt_qtaguid stats ------------------------------------------------------------------------

ODD_QTAGUID = [
    b"idx iface\n",
    b"idx iface acct_tag_hex uid_tag_int cnt_set rx_bytes\n2 wlan0 0x0 10187 0 12\n",
    b"idx iface acct_tag_hex uid_tag_int cnt_set rx_bytes rx_packets tx_bytes tx_packets\n"
    b"2 wlan0 0x0 - 0 1 2 3 4\n",
    b"idx iface acct_tag_hex uid_tag_int cnt_set rx_bytes rx_packets tx_bytes tx_packets\n"
    b"2 wlan0 0xZZ 10187 0 1 2 3 4\n3 wlan0 0x0 10187 0 x 2 3 4\n",
]


@pytest.mark.parametrize("body", ODD_QTAGUID)
def test_an_odd_qtaguid_table_falls_through(body: bytes) -> None:
    phone = hostile(fp.ginkgo_miui12(), "xt_qtaguid", Outcome(body))
    with FakeAdbServer(phone) as server:
        counters = read_counters(session_of(server, phone), fp.MINT_UID)
    if counters is not None and counters.source == QTAGUID:
        assert (counters.tx_bytes, counters.rx_bytes) == (0, 0)  # the odd rows were skipped


def test_qtaguid_without_the_byte_columns_is_not_a_table() -> None:
    with pytest.raises(ValueError, match="xt_qtaguid"):
        parse_qtaguid_packets(ODD_QTAGUID[1].decode(), 10187)
    assert parse_qtaguid_packets(ODD_QTAGUID[2].decode(), 10187) is None


# -- r9: iptables -S ------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'-N egh_x\n-A OUTPUT -m comment --comment "egress-harness:x -j egh_x\n',
    b"-N\n",
    b"-P OUTPUT ACCEPT\n-N egh_y\n-A OUTPUT -j egh_y\n-A OUTPUT 'unbalanced\n",
])
def test_iptables_lines_that_do_not_split_are_skipped(body: bytes) -> None:
    phone = hostile(fp.ginkgo_miui12(), " -S", Outcome(body))
    with FakeAdbServer(phone) as server:
        found = leftover_chains(session_of(server, phone))
    chains = {chain for _, chain, _ in found}
    if b"egh_y" in body:
        assert ("iptables", "egh_y", [["-j", "egh_y"]]) in found
    else:
        assert chains <= {"egh_x"}


# -- r10: uiautomator2 agent replies ---------------------------------------------------------

class OddAgent(FakeUiAutomator):
    """The fake agent; once ``raw`` is set, every JSON-RPC call is answered with it."""

    raw: bytes | None = None

    def serve(self, conn: socket.socket) -> None:
        if self.raw is None:
            super().serve(conn)
            return
        with conn:
            head = read_head(conn)
            if head is None:
                return
            body = b"pong" if head.startswith(b"GET /ping") else self.raw
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                         % len(body) + body)


@pytest.fixture
def odd_chrome() -> Iterator[tuple[AndroidApp, OddAgent]]:
    phone = fp.pixel6_android14()
    agent = OddAgent(phone, [UiNode(resource_id=URL_BAR, bounds=(100, 80, 900, 160))])
    with FakeAdbServer(phone) as server:
        app = AndroidApp(session_of(server, phone), "com.android.chrome",
                         load_profile(find_profile("chrome")))
        try:
            assert app.ui.exists(Selector(resource_id=URL_BAR))  # the agent is up
            yield app, agent
        finally:
            app.close()


@pytest.mark.parametrize("raw", [
    b"not json", b'{"error": "boom"}', b'{"error": {"message": "java.lang.StackOverflowError"}}',
    b'{"result": {}}', b'{"result": [1, 2]}', b"[]",
])
def test_odd_agent_replies_to_a_lookup_are_device_errors(
        odd_chrome: tuple[AndroidApp, OddAgent], raw: bytes) -> None:
    app, agent = odd_chrome
    agent.raw = raw
    with pytest.raises(DeviceError) as err:
        app.check_selectors()
    assert str(err.value).startswith(f"device {app.session.serial}: ")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("raw", [b'{"result": {"bounds": null}}', b'{"result": {"bounds": 3}}',
                                 b'{"result": {"bounds": {"left": "a"}}}'])
def test_odd_bounds_in_a_step_are_device_errors(odd_chrome: tuple[AndroidApp, OddAgent],
                                                raw: bytes) -> None:
    app, agent = odd_chrome
    agent.raw = raw
    with pytest.raises(DeviceError, match="step search failed"):
        app.perform("search", {"query": "q"})


def test_swipe_refuses_an_unknown_direction(pixel_session: AdbSession) -> None:
    app = AndroidApp(pixel_session, "com.android.chrome")
    with pytest.raises(InputError, match="diagonal"):
        app.perform_step("swipe", {"input": "diagonal"})


# -- r17: --install of something that is not a readable file --------------------------------------

@pytest.mark.parametrize("name", ["missing.apk", "."])
def test_install_of_a_missing_apk_is_an_input_error(ginkgo_session: AdbSession,
                                                    ginkgo: FakePhone, tmp_path: Path,
                                                    name: str) -> None:
    apk = tmp_path / name
    with pytest.raises(InputError) as err:
        AppControl(ginkgo_session, "com.android.chrome").install(apk)
    assert str(apk) in str(err.value)
    assert err.value.exit_code == 2
    assert not any(c.startswith("pm install") for c in ginkgo.commands)

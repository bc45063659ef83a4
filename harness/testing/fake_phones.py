"""Ready-made fake phones built from real-device transcripts (see ``harness/data/android``).

- :func:`ginkgo_miui12`: Redmi Note 8, stock MIUI 12 (Android 10), rooted with Magisk ``su``,
  Mint Browser installed, a Mi account signed in, ``xt_qtaguid`` counters.
- :func:`ginkgo_arrow11`: Redmi Note 8 on ArrowOS 11 userdebug: no ``su``, ``adb root`` works.
- :func:`pixel6_android14`: Pixel 6 (Android 14), not rooted, Chrome installed, eBPF netstats.
- :func:`kitkat_box`: an Android 4.4 device without ``shell_v2`` (adb's plain ``shell:``).
"""

from __future__ import annotations

from typing import TextIO

from harness.testing.fake_phone import FakeApp, FakeFile, FakePhone
from harness.testing.transcripts import parse_getprop, transcript
from harness.text import is_digits

# Values the fakes expose, so tests can compare what the device code read with what was served.
MINT_UID = 10187
CHROME_UID = 10143
ANDROID_ID = "51b6be48bac8c569"
IMEI = "860955027785041"
IMSI = "404200123456789"
LINE1 = "+919812345678"
WIFI_MAC = "9c:2e:a1:4f:08:72"
MI_ACCOUNT_ID = "6284951027"


def ginkgo_miui12(serial: str = "a1b2c3d4") -> FakePhone:
    phone = FakePhone(serial=serial, props=parse_getprop(transcript("getprop_ginkgo_miui12.txt")),
                      su=True)
    phone.props["ro.serialno"] = serial
    phone.settings["secure/android_id"] = ANDROID_ID
    # Android 10's IPhoneSubInfo: getDeviceId=1, getSubscriberId=7, getLine1Number=13.
    phone.subinfo = {1: IMEI, 7: IMSI, 13: LINE1}
    phone.apps["com.mi.globalbrowser.mini"] = FakeApp(
        "com.mi.globalbrowser.mini", MINT_UID, transcript("dumpsys_package_mint.txt"),
        activity="com.android.browser.BrowserActivity")
    phone.netstats = transcript("dumpsys_netstats_detail_android10.txt")
    phone.accounts = transcript("dumpsys_account_mi.txt")
    phone.files["/proc/net/xt_qtaguid/stats"] = FakeFile(
        transcript("xt_qtaguid_stats.txt").encode(), mode=0o100444)
    phone.files["/sys/class/net/wlan0/address"] = FakeFile(f"{WIFI_MAC}\n".encode(),
                                                           mode=0o100444, root_only=True)
    phone.files["/data/misc/bluedroid/bt_config.conf"] = FakeFile(
        transcript("bt_config.txt").encode(), mode=0o100660, root_only=True)
    phone.files["/data/data/com.google.android.gms/shared_prefs/adid_settings.xml"] = FakeFile(
        transcript("adid_settings.txt").encode(), mode=0o100660, root_only=True)
    return phone


def ginkgo_arrow11(serial: str = "f00dcafe") -> FakePhone:
    phone = FakePhone(serial=serial, props=parse_getprop(transcript("getprop_ginkgo_arrow11.txt")),
                      su=False, adb_root_allowed=True)
    phone.props["ro.serialno"] = serial
    phone.settings["secure/android_id"] = "9774d56d682e549c"
    # Android 11's IPhoneSubInfo: getDeviceId(pkg)=1, getSubscriberId(pkg)=8, getLine1Number=16.
    phone.subinfo = {1: "353627072090387", 8: None}
    return phone


def pixel6_android14(serial: str = "1A2B3C4D5E6F7G") -> FakePhone:
    phone = FakePhone(serial=serial, props=parse_getprop(transcript("getprop_oriole_14.txt")))
    phone.props["ro.serialno"] = serial
    phone.settings["secure/android_id"] = "f3c2a1b0d9e8c7b6"
    phone.subinfo = {1: "357174072090386"}
    phone.apps["com.android.chrome"] = FakeApp(
        "com.android.chrome", CHROME_UID, transcript("dumpsys_package_chrome.txt"),
        activity="com.google.android.apps.chrome.Main")
    phone.netstats = transcript("dumpsys_netstats_detail_android14.txt")
    phone.accounts = "User UserInfo{0:Owner:c13}:\n  Accounts: 0\n"
    return phone


def kitkat_box(serial: str = "0123456789ABCDEF") -> FakePhone:
    phone = FakePhone(serial=serial, props=parse_getprop(transcript("getprop_mbx_k1_kitkat.txt")),
                      features="")
    phone.props["ro.serialno"] = serial
    phone.settings["secure/android_id"] = "4a54d21dbeaf07a6"
    phone.subinfo = {1: IMEI, 3: None}
    return phone


def read_ports(stream: TextIO, names: tuple[str, ...], limit: int = 200) -> dict[str, str]:
    """Read ``NAME VALUE`` lines printed by :func:`main` (skipping library chatter on stdout)."""
    found: dict[str, str] = {}
    for _ in range(limit):
        line = stream.readline()
        if not line:
            break
        parts = line.split()
        if len(parts) == 2 and parts[0] in names and is_digits(parts[1]):
            found[parts[0]] = parts[1]
        if len(found) == len(names):
            return found
    raise RuntimeError(f"fake phones did not report {names}; got {found}")


SLEEPER = "sleep 600"
"""The default victim: a process that needs no time to start."""


def wait_listening(address: tuple[str, int], timeout: float) -> None:
    """Return once something accepts connections at ``address`` (bounded)."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(address, timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens at {address[0]}:{address[1]} after {timeout:g} s")


def wait_for_a_socket(pid: int, timeout: float) -> None:
    """Return once process ``pid`` holds a socket, i.e. runs its own code past its imports
    (bounded; returns early if it exits, so the join then fails with Frida's reason)."""
    import os
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            return
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    return
            except OSError:
                continue
        time.sleep(0.05)
    raise RuntimeError(f"pid {pid} opened no socket in {timeout:g} s")


def main(argv: list[str] | None = None) -> int:
    """Serve the fake phones on two loopback adb servers until stdin closes (for manual trials).

    ``python -m harness.testing.fake_phones`` prints ``local PORT`` and ``remote PORT``: point
    ``ANDROID_ADB_SERVER_PORT`` (or ``--adb 127.0.0.1:PORT``) at them and try ``harness devices``,
    ``harness provision``, ``harness profile check`` or the device kit. Chrome is installed on
    the rooted Redmi too, with a uiautomator2 agent showing Chrome's URL bar and menu. With
    ``--frida`` the frida-server port of both Redmis (local and remote server) leads to a real
    Frida portal that a local ``sleep`` process joined (printed as ``victim PID``).
    """
    import argparse
    import shlex
    import subprocess
    import sys
    from contextlib import ExitStack

    from harness.testing.fake_adb import FakeAdbServer
    from harness.testing.fake_uiautomator import FakeUiAutomator, UiNode
    from harness.testing.frida_portal import FridaPortal

    parser = argparse.ArgumentParser(prog="python -m harness.testing.fake_phones")
    parser.add_argument("--frida", action="store_true",
                        help="back the Redmi's frida-server port with a real Frida portal")
    parser.add_argument("--victim", default=SLEEPER, metavar="COMMAND",
                        help="the local process that plays Chrome on the Redmi (with --frida)")
    parser.add_argument("--browser", type=int, default=None, metavar="PORT",
                        help="the Redmi's browser: URLs it opens are loaded by the process "
                             "listening on 127.0.0.1:PORT (harness.testing.fake_browser)")
    args = parser.parse_args(argv)
    ginkgo = ginkgo_miui12()
    arrow = ginkgo_arrow11()
    chrome = pixel6_android14().apps["com.android.chrome"]
    ginkgo.apps[chrome.package] = chrome
    if args.browser is not None:
        ginkgo.browser = ("127.0.0.1", args.browser)
    FakeUiAutomator(ginkgo, [
        UiNode(resource_id="com.android.chrome:id/url_bar", bounds=(100, 80, 900, 160)),
        UiNode(resource_id="com.android.chrome:id/menu_button", bounds=(980, 80, 1060, 160))])
    with ExitStack() as stack:
        lines = []
        if args.frida:
            victim = subprocess.Popen(shlex.split(args.victim))
            stack.callback(victim.wait, 5)
            stack.callback(victim.kill)
            portal = stack.enter_context(FridaPortal())
            # inject once it runs its own code: Frida cannot sync up with a process that is
            # still loading its interpreter (CI saw three attaches in a row time out)
            if args.browser is not None:
                wait_listening(("127.0.0.1", args.browser), timeout=20)
            elif args.victim != SLEEPER:  # a network client: it makes a socket first thing
                wait_for_a_socket(victim.pid, timeout=20)
            portal.join(victim.pid)
            ginkgo.frida_backend = arrow.frida_backend = portal.control
            ginkgo.processes[victim.pid] = "com.android.chrome"  # the "app" Frida can attach
            ginkgo.resident["com.android.chrome"] = victim.pid
            lines.append(f"victim {victim.pid}")
        local = stack.enter_context(FakeAdbServer(ginkgo, pixel6_android14()))
        remote = stack.enter_context(FakeAdbServer(arrow))
        print("\n".join([f"local {local.port}", f"remote {remote.port}", *lines]), flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

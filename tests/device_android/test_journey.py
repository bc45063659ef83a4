"""`harness run SCENARIO --device SERIAL --app PACKAGE` end to end against the fake phones.

The fake Redmi (rooted, behind a fake adb server given with --adb) runs "Chrome": a real local
process (harness.testing.fake_browser) joined to a Frida portal behind the phone's frida-server
port. The journey provisions and forwards frida-server, reverses the lab site, blocks QUIC with
iptables, writes Chromium's command-line file, falls back from spawning (a portal cannot spawn)
to attaching the app's processes, and runs the phases through Chrome's profile (intents, and
uiautomator2 waits against the fake device agent). Chrome loads the canary page over real TLS
through a tunnel that counts the bytes for Chrome's UID in the fake kernel tables; the agent
captures the request; the analysis finds the canary as the run's positive control.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import frida
import pytest

from harness.capture.rundir import CaptureReader, RunDir
from harness.cli import main
from harness.device.android_adb import AdbEndpoint, AdbSession
from tests.device_android.fakes import fake_phones
from tests.device_android.test_frida_server import fake_elf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.frida, pytest.mark.slow]

SCENARIO = """\
name: phone-browsing
description: one canary page on the phone, then a pause so the load lands in its phase
phases:
  - name: browse
    steps:
      - launch
      - open_url: "{canary.url}"
      - wait: 3
  - name: idle
    steps:
      - wait: 1
  - name: broken
    steps:
      - tap: {text: "No such button"}
      - wait: 1
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def phones(tmp_path: Path) -> Iterator[dict[str, str]]:
    browser = free_port()
    victim = f"{sys.executable} -m harness.testing.fake_browser {browser}"
    with fake_phones(tmp_path, "--victim", victim, "--browser", str(browser)) as ports:
        yield ports


def test_a_journey_on_the_phone_is_captured_counted_and_analysed(
        phones: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "phone.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    binary = tmp_path / f"frida-server-{frida.__version__}-android-arm64"
    binary.write_bytes(fake_elf(183, frida.__version__))
    adb = f"127.0.0.1:{phones['local']}"
    code = main(["run", str(scenario), "--device", "a1b2c3d4", "--app", "com.android.chrome",
                 "--adb", adb, "--frida-server", str(binary), "--out", str(tmp_path / "runs")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "some steps failed" in out.err
    (run_path,) = (tmp_path / "runs").iterdir()
    run = RunDir.open(run_path)
    info = run.load_info()
    assert info.status == "complete"
    assert info.device["serial"] == "a1b2c3d4"
    assert info.device["model"] == "Redmi Note 8"
    assert info.device["adb_server"] == adb
    assert info.target["package"] == "com.android.chrome"
    assert info.target["uid"] == 10143
    assert info.target["profile"] == "chrome"
    assert info.target["profile_verified"] is False
    assert [p.name for p in info.phases] == ["browse", "idle", "broken"]
    assert [p.complete for p in info.phases] == [True, True, False], [p.notes for p in
                                                                      info.phases]
    (note,) = info.phases[2].notes
    assert "no [text='No such button'] on screen within 10 s (evidence: " in note
    # the failed step kept a screenshot and the logcat, named in its marker
    kept = sorted(p.name for p in (run_path / "evidence").iterdir())
    assert [k.rsplit("-", 1)[1] for k in kept] == ["tap.logcat.txt", "tap.png"]
    assert (run_path / "evidence" / kept[1]).read_bytes().startswith(b"\x89PNG")
    assert "ActivityManager" in (run_path / "evidence" / kept[0]).read_text()
    with CaptureReader(run.capture_db) as reader:
        (failed,) = [m for m in reader.markers() if m.kind == "step-failed"]
    assert failed.detail["evidence"] == kept
    extra = info.extra
    assert str(extra["quic_blocking"]).startswith("iptables+ip6tables: UDP 443/80 rejected for "
                                                  "uid 10143")
    flags = extra["chrome_command_line"]
    assert isinstance(flags, list)
    assert flags[0] == ("--host-resolver-rules=MAP canary.lab.test 127.0.0.1,MAP sa.api.lab.test"
                        " 127.0.0.1,MAP sync.lab.test 127.0.0.1")
    assert str(extra["capture_mode"]).startswith("attach: ")
    assert "(spawn failed: device a1b2c3d4: Frida cannot spawn com.android.chrome: " in \
        str(extra["capture_mode"])
    attached = extra["attached"]
    assert isinstance(attached, dict)
    # Chrome was stopped so it would read its command-line file, then attached once launched
    assert attached == {"processes": {phones["victim"]: "com.android.chrome"}, "failed": {}}

    # the kernel's counters: the browse phase carries exactly the bytes the tunnel counted
    rows = extra["egress_counters"]
    assert isinstance(rows, list)
    browse, idle, _ = rows
    assert isinstance(browse, dict)
    assert isinstance(idle, dict)
    assert browse["source"] == "/proc/net/xt_qtaguid/stats"
    assert isinstance(browse["tx_bytes"], int)
    assert browse["tx_bytes"] > 300  # a TLS ClientHello and the request, at least
    assert (idle["tx_bytes"], idle["rx_bytes"]) == (0, 0)
    # packets come along, so the coverage check can count each packet's headers
    assert isinstance(browse["tx_packets"], int)
    assert browse["tx_packets"] >= 2
    assert (idle["tx_packets"], idle["rx_packets"]) == (0, 0)
    assert info.health.bytes_kernel_out == browse["tx_bytes"]
    assert info.health.bytes_kernel_in == browse["rx_bytes"]
    assert info.health.bytes_hooked_out > 0

    # what the agent captured in "Chrome", and what the analysis made of it
    needles = json.loads((run_path / "needles.json").read_text())
    token = next(n["value"] for n in needles if n["name"] == "canary-url:browse")
    assert {"android_id", "imei", "mi_account_id"} <= {n["name"] for n in needles}
    with CaptureReader(run.capture_db) as reader:
        sent = b"".join(e.data or b"" for e in reader.events() if e.direction == "out")
    assert f"GET /c/{token} HTTP/1.1\r\nHost: canary.lab.test:18443".encode() in sent
    findings = json.loads((run_path / "findings.json").read_text())
    controls = [f for f in findings if f.get("control")]
    assert [(f["needle"], f["host"], f["phase"]) for f in controls] == [
        ("canary-url:browse", "canary.lab.test", "browse")]
    assert extra["lab_server_requests"] == {"canary.lab.test": 1, "sa.api.lab.test": 0,
                                            "sync.lab.test": 0}

    # the phone is left as it was: no chains, no command-line file, no forwards or reverses
    session = AdbSession(AdbEndpoint("127.0.0.1", int(phones["local"])), "a1b2c3d4")
    assert "egh_" not in session.shell(["iptables", "-S"], root=True).stdout
    assert session.stat("/data/local/tmp/chrome-command-line") is None
    assert session.device.forward_list() == []
    assert list(session.device.reverse_list()) == []


def test_sign_in_uses_the_phones_own_account(ginkgo_session: AdbSession) -> None:
    from harness.device.android_ids import IdentifierReader
    from harness.device.android_journey import phone_account

    ids = IdentifierReader(ginkgo_session).read_all()
    chrome = phone_account("com.android.chrome", ids)
    mint = phone_account("com.mi.globalbrowser.mini", ids)
    assert chrome is not None
    assert mint is not None
    assert (chrome.value, chrome.source) == ("lab.tester.2020@gmail.com", "dumpsys account")
    assert mint.value == "6284951027"
    assert phone_account("org.mozilla.firefox", ids) is None


def test_counters_of_a_phase_whose_source_changed_are_not_compared() -> None:
    from harness.capture.rundir import Phase, RunInfo
    from harness.device.android_journey import phase_done
    from harness.device.base import EgressCounters

    info = RunInfo(run_id="r", created=0.0)
    qt = "/proc/net/xt_qtaguid/stats"
    phase_done(Phase("a", 0.0), EgressCounters(10, 20, qt), EgressCounters(15, 50, qt))(info)
    phase_done(Phase("b", 0.0), EgressCounters(15, 50, qt),
                EgressCounters(900, 900, "dumpsys netstats detail: mAppUidStatsMap"))(info)
    phase_done(Phase("c", 0.0), None, None)(info)
    a, b, c = info.extra["egress_counters"]  # type: ignore[misc]
    assert a == {"phase": "a", "source": qt, "tx_bytes": 5, "rx_bytes": 30, "before": [10, 20],
                 "after": [15, 50]}
    assert b["source"] is None  # type: ignore[index]
    assert "source changed" in b["note"]  # type: ignore[index]
    assert c["note"] == "the device has no readable per-UID counters"  # type: ignore[index]
    assert (info.health.bytes_kernel_out, info.health.bytes_kernel_in) == (5, 30)
    assert [p.name for p in info.phases] == ["a", "b", "c"]

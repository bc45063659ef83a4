"""The opt-in device kit (tests/device) run against the fake phones, to prove its code runs.

The kit is written for a real phone; here it runs, unmodified, in a child pytest against the
fake adb servers (`python -m harness.testing.fake_phones --frida`, whose Redmi answers the
frida-server port with a real Frida portal holding a local `sleep` process).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import frida
import pytest

from tests.device_android.fakes import fake_phones

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.frida


def test_kit_runs_against_the_fakes_and_writes_its_report(tmp_path: Path) -> None:
    server_file = tmp_path / f"frida-server-{frida.__version__}-android-arm64"
    header = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack("<HH", 3, 183)
    server_file.write_bytes(header + f"frida-version={frida.__version__}".encode() + bytes(64))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EGRESS_HARNESS_CACHE": str(tmp_path)}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        browser = str(s.getsockname()[1])
    # the Redmi's "Chrome" is the fake browser (a real process joined to the Frida portal)
    victim = f"{sys.executable} -m harness.testing.fake_browser {browser}"
    with fake_phones(tmp_path, "--victim", victim, "--browser", browser, env=env) as ports:
        kit = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "tests/device", "--device", "a1b2c3d4"],
            cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**env, "EGRESS_HARNESS_ADB": f"127.0.0.1:{ports['local']}",
                 "EGRESS_HARNESS_FRIDA_SERVER": str(server_file),
                 "EGRESS_HARNESS_REPORT_DIR": str(tmp_path / "report")})
    assert kit.returncode == 0, kit.stdout + kit.stderr
    report = json.loads((tmp_path / "report" / "verification-a1b2c3d4.json").read_text())
    outcomes = {c["check"]: c["outcome"] for c in report["checks"]}
    assert outcomes == {
        "test_device_is_described": "passed",
        "test_doctor_device_checks": "passed",
        "test_frida_server_provisioned_and_reachable": "passed",
        "test_identifiers_read_or_explained": "passed",
        "test_chrome_journey_over_adb_reverse_with_counters_and_quic_off": "passed",
        "test_chrome_profile_selectors_on_its_screen": "passed",
        "test_harness_run_journey_on_chrome": "passed",
    }
    doctor = report["measured"]["test_doctor_device_checks"]
    assert doctor["root"] == "ok: device a1b2c3d4: root via su"
    run = report["measured"]["test_harness_run_journey_on_chrome"]
    assert run["controls"] == ["canary-url:browse"]
    assert run["bytes_kernel_out"] > run["bytes_hooked_out"] > 0
    assert str(run["capture_mode"]).startswith("attach")
    measured = report["measured"]
    assert measured["test_frida_server_provisioned_and_reachable"]["processes_seen"] == 1
    assert report["device"]["model"] == "Redmi Note 8"
    journey = report["measured"]["test_chrome_journey_over_adb_reverse_with_counters_and_quic_off"]
    assert journey["quic"].startswith("iptables+ip6tables")
    assert report["measured"]["test_identifiers_read_or_explained"]["imei"].startswith("read via")
    summary = (tmp_path / "report" / "verification-a1b2c3d4.md").read_text()
    assert "| test_chrome_profile_selectors_on_its_screen | passed |" in summary

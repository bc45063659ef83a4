"""The device verification kit: `pytest tests/device --device SERIAL` on a real phone.

Skipped without --device (the `device` marker, see harness/testing/plugin.py). Options come from
the environment so the kit needs nothing but pytest's own command line:

- EGRESS_HARNESS_ADB=HOST:PORT     a remote adb server (default: the local one)
- EGRESS_HARNESS_FRIDA_SERVER=FILE a frida-server binary to push (default: the one on the phone
                                   or in the cache, see `harness provision --help`)
- EGRESS_HARNESS_REPORT_DIR=DIR    where the verification report goes (default: ./device-report)

At the end it writes DIR/verification-SERIAL.json: the device, tool versions and every check
with its outcome and what it measured, for a lab to send back.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path

import frida
import pytest

from harness import __version__
from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_discovery import device_info, open_session

RESULTS: list[dict[str, object]] = []
FACTS: dict[str, object] = {}


def endpoints() -> list[AdbEndpoint]:
    remote = os.environ.get("EGRESS_HARNESS_ADB")
    return [AdbEndpoint.parse(remote)] if remote else [AdbEndpoint()]


@pytest.fixture
def session(device_serial: str) -> AdbSession:
    s = open_session(device_serial, endpoints())
    FACTS["device"] = device_info(s).to_json()
    return s


@pytest.fixture
def record(request: pytest.FixtureRequest) -> Iterator[dict[str, object]]:
    """What a check measured; saved in the report beside its outcome."""
    facts: dict[str, object] = {}
    yield facts
    FACTS.setdefault("measured", {})
    measured = FACTS["measured"]
    assert isinstance(measured, dict)
    measured[request.node.name] = facts


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        crash = getattr(report.longrepr, "reprcrash", None)
        error = (crash.message if crash is not None else str(report.longrepr)) \
            if report.failed else None
        RESULTS.append({"check": report.nodeid.split("::")[-1], "outcome": report.outcome,
                        "seconds": round(report.duration, 2), "error": error})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    serial = session.config.getoption("--device")
    if not serial or not RESULTS:
        return
    out = Path(os.environ.get("EGRESS_HARNESS_REPORT_DIR", "device-report"))
    out.mkdir(parents=True, exist_ok=True)
    report = {"format_version": 1, "kind": "egress-harness device verification",
              "serial": serial, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "harness": __version__, "frida": frida.__version__, "host": platform.platform(),
              "adb": [str(e) for e in endpoints()], **FACTS, "checks": RESULTS}
    path = out / f"verification-{serial}.json"
    path.write_text(json.dumps(report, indent=2, sort_keys=True), encoding="utf-8")
    device = report.get("device") if isinstance(report.get("device"), dict) else {}
    assert isinstance(device, dict)
    lines = [f"# egress-harness device verification: {serial}", "",
             f"{device.get('manufacturer')} {device.get('model')}, Android {device.get('release')}"
             f" (SDK {device.get('sdk')}), build `{device.get('fingerprint')}`; harness "
             f"{__version__}, frida {frida.__version__}", "", "| check | outcome | note |",
             "| --- | --- | --- |"]
    for check in RESULTS:
        note = str(check["error"] or "").replace("|", "/").replace("\n", " ")[:200]
        lines.append(f"| {check['check']} | {check['outcome']} | {note} |")
    md = out / f"verification-{serial}.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"\ndevice verification report: {path} ({md.name})")

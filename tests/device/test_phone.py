"""The Android path end to end on a real phone or emulator (opt-in: --device SERIAL).

Order matters (each check builds on the previous); each records what it measured. Traffic stays
on loopback: Chrome loads the host's canary page through `adb reverse`.
"""

from __future__ import annotations

import http.server
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.device.android_adb import AdbSession, RootMode
from harness.device.android_app import AppControl
from harness.device.android_frida import FridaServer
from harness.device.android_ids import IdentifierReader
from harness.device.android_netstats import app_uid, delta, read_counters
from harness.device.android_profile import find_profile, load_profile
from harness.device.android_quic import QuicFirewall, leftover_chains
from harness.device.android_steps import AndroidApp

pytestmark = pytest.mark.device

CHROME = "com.android.chrome"
CANARY_PORT = 18080


def test_device_is_described(session: AdbSession, record: dict[str, object]) -> None:
    from harness.device.android_discovery import device_info

    info = device_info(session)
    assert info.sdk is not None
    assert info.fingerprint
    record.update(root=str(session.root_mode), abi=info.abi)


def test_doctor_device_checks(device_serial: str, record: dict[str, object]) -> None:
    """What `harness doctor --device` says about this phone (leftover rules reported, kept)."""
    from harness.device.android_doctor import device_checks

    remote = os.environ.get("EGRESS_HARNESS_ADB")
    checks = device_checks(device_serial, [remote] if remote else [], clean=False)
    record.update({c.name: ("ok: " if c.ok else "NOT OK: ") + c.detail for c in checks})
    assert [c.name for c in checks][:3] == ["adb-server", "device", "build"]
    assert all(c.ok for c in checks[:3]), checks


def test_frida_server_provisioned_and_reachable(session: AdbSession,
                                                record: dict[str, object]) -> None:
    path = os.environ.get("EGRESS_HARNESS_FRIDA_SERVER")
    server = FridaServer(session)
    record["version"] = server.provision(Path(path) if path else None)
    with server:
        started = server.started_pid
        device = server.frida_device()
        processes = device.enumerate_processes()
        record["processes_seen"] = len(processes)
        assert processes
    if started is not None:  # we started it, so leaving must have stopped it
        assert started not in server.running_pids()


def test_identifiers_read_or_explained(session: AdbSession, record: dict[str, object]) -> None:
    ids = IdentifierReader(session).read_all()
    record.update({i.name: ("read via " + i.source) if i.value else f"unavailable: {i.unavailable}"
                   for i in ids})
    assert all(i.value or i.unavailable for i in ids)
    assert any(i.name == "android_id" and i.value for i in ids)


@pytest.fixture
def canary() -> Iterator[tuple[int, list[str]]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"<html><title>egress-harness canary</title></html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1]), hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_chrome_journey_over_adb_reverse_with_counters_and_quic_off(
        session: AdbSession, canary: tuple[int, list[str]], record: dict[str, object],
        tmp_path: Path) -> None:
    port, hits = canary
    control = AppControl(session, CHROME)
    record["chrome"] = control.info().version_name
    uid = app_uid(session, CHROME)
    app = AndroidApp(session, CHROME, load_profile(find_profile("chrome")),
                     evidence_dir=tmp_path / "evidence")
    token = secrets.token_hex(6)
    before = read_counters(session, uid)
    try:
        with control.reversed_port(CANARY_PORT, port):
            if session.root_mode is not RootMode.NONE:
                with QuicFirewall(session, uid, f"kit-{token}") as fw:
                    record["quic"] = fw.describe()
                    assert any(c.endswith(token) for _, c, _ in leftover_chains(session))
                    app.perform("open_url", {"url": f"http://127.0.0.1:{CANARY_PORT}/{token}"})
                assert not any(c.endswith(token) for _, c, _ in leftover_chains(session))
            else:
                record["quic"] = "not blocked (no root)"
                app.perform("open_url", {"url": f"http://127.0.0.1:{CANARY_PORT}/{token}"})
            deadline = time.monotonic() + 20
            while f"/{token}" not in hits and time.monotonic() < deadline:
                time.sleep(0.25)
    finally:
        app.close()
    assert f"/{token}" in hits
    after = read_counters(session, uid)
    if before is not None and after is not None:
        d = delta(before, after)
        record.update(counter_source=d.source, tx_bytes=d.tx_bytes, rx_bytes=d.rx_bytes)


def test_chrome_profile_selectors_on_its_screen(session: AdbSession,
                                                record: dict[str, object]) -> None:
    app = AndroidApp(session, CHROME, load_profile(find_profile("chrome")))
    try:
        app.perform("launch")
        checks = app.check_selectors()
    finally:
        app.close()
    record["found"] = sorted({c.step for c in checks if c.found})
    record["missing"] = sorted({c.step for c in checks if c.found is False})
    assert any(c.found for c in checks)


def test_harness_run_journey_on_chrome(device_serial: str, record: dict[str, object],
                                       tmp_path: Path) -> None:
    """What `harness run SCENARIO --device SERIAL --app com.android.chrome` does, end to end:
    the agent in Chrome, the canary page load captured (the positive control), the kernel's
    counters per phase beside the hooked bytes."""
    from harness.device.android_journey import PhoneOptions, run_on_phone

    scenario = tmp_path / "kit-journey.yaml"
    scenario.write_text("name: kit-journey\nphases:\n  - name: browse\n    steps:\n"
                        "      - launch\n      - open_url: \"{canary.url}\"\n      - wait: 5\n",
                        encoding="utf-8")
    remote = os.environ.get("EGRESS_HARNESS_ADB")
    server = os.environ.get("EGRESS_HARNESS_FRIDA_SERVER")
    result = run_on_phone(scenario, CHROME, PhoneOptions(
        device_serial, (remote,) if remote else (), Path(server) if server else None),
        out=tmp_path / "runs", say=lambda line: None)
    info = result.run.load_info()
    findings = json.loads((result.run.path / "findings.json").read_text())
    controls = sorted({str(f["needle"]) for f in findings if f.get("control")})
    record.update(capture_mode=info.extra.get("capture_mode"),
                  quic=info.extra.get("quic_blocking"),
                  counters=info.extra.get("egress_counters"),
                  bytes_hooked_out=info.health.bytes_hooked_out,
                  bytes_kernel_out=info.health.bytes_kernel_out,
                  hooks_installed=info.health.hooks_installed, controls=controls,
                  attached=info.extra.get("attached"))
    assert result.complete, [p.notes for p in info.phases]
    assert info.health.bytes_hooked_out > 0
    assert controls == ["canary-url:browse"]

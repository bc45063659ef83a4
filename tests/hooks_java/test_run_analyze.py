"""The Java hooks through the product path: a capture session and recorder attached to a
running JVM write a run dir, and ``harness analyze`` finds a canary the app encrypted with
its own Cipher, with ``cipher:AES/CBC/PKCS5Padding`` in the finding's chain; the run's
coverage lists the Android-only stacks as skipped on the JVM, with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import frida
import pytest

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir
from harness.testing.javafixtures import Fixtures, JavaDriver
from harness.testing.recording_server import RecordingServer, ServerCert

ROOT = Path(__file__).resolve().parents[2]
CANARY = "CIPHERRUNCANARY"


@pytest.fixture(scope="module")
def run(fixtures: Fixtures, truststore: Path, cert: ServerCert,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunDir, RecordingServer]]:
    out = tmp_path_factory.mktemp("runs")
    with RecordingServer(cert) as srv, \
            JavaDriver(fixtures.classpath(with_fixtures=False), truststore) as driver:
        rd = RunDir.create(out)
        channel = Channel()
        with Recorder(rd, channel), \
                CaptureSession(frida.get_local_device(), build_agent(), channel,
                               # Java hooks alone: with native hooks the driver's main thread
                               # blocks in a hooked read(0), and unload waits for it (20 s)
                               AgentConfig(native=False), follow_children=False) as session:
            session.attach(driver.pid)
            assert driver.command(f"cipher {srv.url}/enc {CANARY}") == "200"
            session.flush()
            STATUS.update(session.status(driver.pid))
        yield rd, srv


STATUS: dict[str, object] = {}
"""What CaptureSession.status() answered during the run (the fixture fills it)."""


def test_session_status_names_the_hooks(run: tuple[RunDir, RecordingServer]) -> None:
    hooks = STATUS["hooks"]
    assert isinstance(hooks, list)
    assert any(h["name"] == "java.cipher.init" and h["status"] == "installed" for h in hooks)
    assert STATUS["profile"] is None  # AgentConfig.profile is off by default


def test_analyze_finds_the_canary_through_the_apps_cipher(
        run: tuple[RunDir, RecordingServer]) -> None:
    rd, srv = run
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "analyze", str(rd.path), "--needle", f"canary={CANARY}"],
        capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    findings = json.loads((rd.path / "findings.json").read_text())
    ours = [f for f in findings if f["needle"] == "canary"]
    assert ours, findings
    # The body on the wire is base64(AES(plaintext)); only the app's Cipher call, captured
    # with its input and output, links the ciphertext to the plaintext holding the canary.
    sent = next(r for r in srv.requests() if r[1] == "/enc")[3]
    assert CANARY.encode() not in sent
    chains = [f["chain"] for f in ours]
    # body > the app's Base64 (or the standard decoder) > the app's Cipher > the JSON field.
    assert any(c[0] == "http:POST 127.0.0.1/enc" and c[1] in ("app:encode", "base64")
               and c[2] == "cipher:AES/CBC/PKCS5Padding" and c[-1] == "json:$.events[0].url"
               for c in chains), chains
    assert all(f["host"] == "127.0.0.1" for f in ours), ours


def test_run_coverage_lists_android_stacks_skipped_with_reason(
        run: tuple[RunDir, RecordingServer]) -> None:
    rd, _ = run
    with rd.reader() as reader:
        hooks = [e.fields for e in reader.events(kinds=["hook"])]
    assert hooks
    by_group: dict[str, list[dict[str, object]]] = {}
    for h in hooks:
        by_group.setdefault(str(h["group"]), []).append(dict(h))
    for group, cls in [
        ("java.conscrypt", "com.android.org.conscrypt."),
        ("java.conscrypt.org", "org.conscrypt."),
        ("java.webview", "android.webkit."),
        ("java.cronet", "org.chromium.net."),
    ]:
        assert by_group.get(group), group
        for h in by_group[group]:
            assert h["status"] == "skipped", h
            assert str(h["reason"]).startswith(f"class not present: {cls}"), h
    # What the JVM does have is installed, and nothing failed.
    assert all(h["status"] == "installed" for h in by_group["java.jsse"])
    assert not [h for h in hooks if h["status"] == "failed"]
    health = rd.load_info().health
    assert health.hooks_installed > 0
    assert health.hooks_skipped > 0
    assert health.hooks_failed == 0

"""The real path: curl --http2 captured by the real Frida agent (native TLS hooks), stored
as a run dir, parsed into the requests curl made, with their headers and bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.parse.message import MessageKind
from harness.parse.storeread import MessageStore
from tests.parse.wire import agent_run_to_rundir, h2_server

pytestmark = pytest.mark.frida


def test_curl_http2_captured_by_the_agent(tmp_path: Path) -> None:
    from harness.agent.bundle import build_agent
    from harness.testing.agent_run import run_under_agent
    from harness.testing.certs import make_pki

    pki = make_pki(tmp_path / "pki")
    agent = build_agent()
    with h2_server(pki.cert, pki.key) as (port, rec):
        base = f"https://localhost:{port}"
        run = run_under_agent(agent, [
            "curl", "-sS", "-o", "/dev/null", "--max-time", "20", "--http2",
            "--cacert", str(pki.ca_cert), "-H", "X-Device: CANARY-h2-agent",
            "--data", "android_id=CANARY-9f1e&q=search+words", f"{base}/collect?v=2",
            "--next", "-o", "/dev/null", "--http2", "--cacert", str(pki.ca_cert),
            f"{base}/page/2"], {})
    assert run.errors == []
    rundir = agent_run_to_rundir(tmp_path, run.batches)
    with MessageStore.open(rundir) as store:
        msgs = list(store.messages())
    # the agent saw exactly what the server read: the parse starts from the real bytes
    (server_side,) = rec.conns
    with rundir.reader() as reader:
        captured = b"".join(e.data or b"" for e in reader.events(kinds=["stream"])
                            if e.direction == "out")
    assert captured == b"".join(b for _t, d, b in server_side if d == "out")
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    assert [(r.method, r.url, r.protocol) for r in reqs] == [
        ("POST", f"https://localhost:{port}/collect?v=2", "h2"),
        ("GET", f"https://localhost:{port}/page/2", "h2")]
    assert reqs[0].header("x-device") == "CANARY-h2-agent"
    assert reqs[0].body == b"android_id=CANARY-9f1e&q=search+words"
    assert reqs[0].source == "native.tls"
    assert reqs[0].sni == "localhost"
    assert reqs[0].tls_version is not None
    assert reqs[0].tls_version.startswith("TLS")
    # (no peer address: curl's OpenSSL BIO has no fd for the native hooks to ask)
    resps = {m.request_id: m for m in msgs if m.kind is MessageKind.RESPONSE}
    assert resps[reqs[0].id].body == \
        b"h2 echo /collect?v=2 android_id=CANARY-9f1e&q=search+words"
    assert resps[reqs[1].id].body == b"h2 echo /page/2 "
    assert not any(m.notes for m in reqs)


def test_harness_capture_of_curl_http2(tmp_path: Path) -> None:
    """End to end through the product path: ``harness capture -- curl --http2 ...``."""
    import os
    import subprocess
    import sys

    from harness.testing.certs import make_pki

    pki = make_pki(tmp_path / "pki")
    runs = tmp_path / "runs"
    with h2_server(pki.cert, pki.key) as (port, _rec):
        base = f"https://localhost:{port}"
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
        subprocess.run(
            [sys.executable, "-m", "harness.cli", "capture", "--out", str(runs),
             "--timeout", "60", "--", "curl", "-sS", "-o", "/dev/null", "--http2",
             "--cacert", str(pki.ca_cert), "-H", "X-Device: CANARY-cli-h2",
             "--data-binary", "imei=CANARY-35209900&gzip=1", f"{base}/sa?project=p",
             "--next", "-o", "/dev/null", "--http2", "--cacert", str(pki.ca_cert),
             f"{base}/second"],
            check=True, timeout=120, env=env, capture_output=True)
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir()]
    with MessageStore.open(run_dir) as store:
        msgs = list(store.messages())
    reqs = [m for m in msgs if m.kind is MessageKind.REQUEST]
    assert [(r.method, r.url, r.protocol) for r in reqs] == [
        ("POST", f"https://localhost:{port}/sa?project=p", "h2"),
        ("GET", f"https://localhost:{port}/second", "h2")]
    assert reqs[0].header("x-device") == "CANARY-cli-h2"
    assert reqs[0].body == b"imei=CANARY-35209900&gzip=1"
    assert reqs[0].sni == "localhost"
    assert reqs[0].source == "native.tls"
    assert not any(m.notes for m in reqs)
    resps = {m.request_id: m for m in msgs if m.kind is MessageKind.RESPONSE}
    assert resps[reqs[0].id].body == b"h2 echo /sa?project=p imei=CANARY-35209900&gzip=1"
    assert resps[reqs[1].id].status == 200

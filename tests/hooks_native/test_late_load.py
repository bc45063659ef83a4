"""A client that loads libssl only after it started (dlopen, here through Python's lazy
``import ssl``) is still captured: the module observer hooks libraries loaded later."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from harness.agent.bundle import AgentBundle
from harness.protocol import NativeKind
from harness.testing.agent_run import run_under_agent
from harness.testing.certs import PKIFiles
from harness.testing.tls_server import TLSServer

CLIENT = textwrap.dedent("""
    import sys, time
    assert "ssl" not in sys.modules
    time.sleep(0.2)  # well after the agent's init
    import http.client, ssl  # dlopen of _ssl, which pulls in libssl.so.3
    port, ca = int(sys.argv[1]), sys.argv[2]
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    conn.request("POST", "/late", body=b"late=CANARY-dlopen")
    assert conn.getresponse().read() == b"ok"
    conn.close()
""")


def test_libssl_loaded_after_start_is_captured(tmp_path: Path, agent: AgentBundle,
                                               pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with TLSServer(pki) as server:
        run = run_under_agent(agent, [sys.executable, "-S", str(script), str(server.port),
                                      str(pki.ca_cert)], {"java": False})
    # at init no module exported SSL_write: nothing was hooked then, it was said why
    assert isinstance(run.init_result, list)
    at_init = [h for h in run.init_result
               if isinstance(h, dict) and h.get("group") == "native.tls"]
    assert [(h["status"], h["name"]) for h in at_init] == [
        ("skipped", "native.tls.libssl")]
    (log,) = server.connections
    assert b"CANARY-dlopen" in bytes(log.received)
    assert run.stream(NativeKind.TLS_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TLS_IN) == bytes(log.sent)
    later = {(r.fields["name"], r.fields["status"]) for r in run.records if r.kind == "hook"}
    assert ("native.tls.SSL_write_ex", "installed") in later

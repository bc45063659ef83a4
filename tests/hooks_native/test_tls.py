"""Native TLS hooks against real clients and a real TLS server on 127.0.0.1."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

from harness.agent.bundle import AgentBundle
from harness.protocol import NativeKind
from harness.protocol_native import decode_conn_info
from harness.testing.agent_run import run_under_agent
from harness.testing.certs import PKIFiles
from harness.testing.tls_server import TLSServer

CLIENT = textwrap.dedent("""
    import http.client, ssl, sys
    port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
    for i in range(n):
        body = (b"id=CANARY-7f3a&i=%d&" % i) + b"x" * (70000 + i)
        conn.request("POST", "/collect", body=body, headers={"Content-Type": "text/plain"})
        assert conn.getresponse().read() == b"ok"
    conn.close()
""")


def test_python_ssl_client_is_captured_byte_exact(tmp_path: Path, agent: AgentBundle,
                                                  pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with TLSServer(pki) as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port),
                                      str(pki.ca_cert), "5"], {"java": False})
    assert run.errors == []
    (log,) = server.connections
    assert run.stream(NativeKind.TLS_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TLS_IN) == bytes(log.sent)
    infos = [decode_conn_info(n.body) for n in run.native if n.kind == NativeKind.CONN_INFO]
    assert len(infos) == 1
    assert infos[0]["peer_ip"] == "127.0.0.1"
    assert infos[0]["peer_port"] == server.port
    assert infos[0]["sni"] == "localhost"
    assert infos[0]["tls_version"] == log.version
    hooks = [r.fields for r in run.records if r.kind == "hook"]
    assert any(h["status"] == "installed" and h["name"] == "native.tls.SSL_write_ex"
               for h in hooks)


def test_truncation_is_explicit(tmp_path: Path, agent: AgentBundle, pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with TLSServer(pki) as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port),
                                      str(pki.ca_cert), "1"], {"maxRecordBytes": 1000})
    outs = [n for n in run.native if n.kind == NativeKind.TLS_OUT]
    big = [n for n in outs if n.orig_len > 1000]
    assert big, "the 70 kB body must have produced a cut record"
    assert all(n.truncated and len(n.body) == 1000 for n in big)
    assert sum(n.orig_len for n in outs) == len(server.received_total())


def test_tls12_version_is_reported(tmp_path: Path, agent: AgentBundle, pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with TLSServer(pki, max_version=ssl.TLSVersion.TLSv1_2) as server:
        run = run_under_agent(agent, [sys.executable, str(script), str(server.port),
                                      str(pki.ca_cert), "1"], {})
    infos = [decode_conn_info(n.body) for n in run.native if n.kind == NativeKind.CONN_INFO]
    assert [i["tls_version"] for i in infos] == ["TLSv1.2"]
    assert infos[0]["cipher"]


def test_curl_is_captured(agent: AgentBundle, pki: PKIFiles) -> None:
    body = "token=CANARY-curl-91"
    with TLSServer(pki) as server:
        run = run_under_agent(agent, ["curl", "-sS", "--http1.1", "--cacert", str(pki.ca_cert),
                                      "--data", body, f"https://localhost:{server.port}/x"], {})
    (log,) = server.connections
    assert run.stream(NativeKind.TLS_OUT) == bytes(log.received)
    assert body.encode() in run.stream(NativeKind.TLS_OUT)
    assert run.stream(NativeKind.TLS_IN) == bytes(log.sent)


ANDROID_INC = Path("/usr/include/android")
ANDROID_LIB = Path("/usr/lib/x86_64-linux-gnu/android")


def test_android_boringssl_client_is_captured(tmp_path: Path, agent: AgentBundle,
                                              pki: PKIFiles) -> None:
    source = Path(__file__).parents[2] / "harness" / "testing" / "csrc" / "tls_client.c"
    exe = tmp_path / "bssl_client"
    subprocess.run(["gcc", str(source), "-o", str(exe), f"-I{ANDROID_INC}", f"-L{ANDROID_LIB}",
                    "-lssl", "-lcrypto", f"-Wl,-rpath,{ANDROID_LIB}"], check=True)
    with TLSServer(pki) as server:
        run = run_under_agent(agent, [str(exe), str(server.port), str(pki.ca_cert),
                                      "android_id=CANARY-bssl"], {})
    (log,) = server.connections
    assert run.stream(NativeKind.TLS_OUT) == bytes(log.received)
    assert run.stream(NativeKind.TLS_IN) == bytes(log.sent)
    targets = {r.fields["target"] for r in run.records
               if r.kind == "hook" and r.fields["status"] == "installed"
               and r.fields["group"] == "native.tls"}
    # Android's BoringSSL (soname libssl.so.0), not OpenSSL's libssl.so.3
    assert targets == {"libssl.so.0"}
    (info,) = [decode_conn_info(n.body) for n in run.native if n.kind == NativeKind.CONN_INFO]
    assert info["sni"] == "localhost"
    assert info["tls_version"] == log.version

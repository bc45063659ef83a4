"""The capture path on the Android route: the real agent loaded through adb forward.

`AndroidDevice` (fake adb server, fake Redmi) attaches to "Chrome", which is a real local
Python process joined to a Frida portal behind the phone's frida-server port, with
`CaptureSession.attach` — the same call `harness capture` makes — and the agent's TLS hooks
record what that process sends to a local TLS server. Everything but Android itself is real:
adbutils, the forward, Frida's protocol, the injected agent and its messages.
"""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import frida
import pytest

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel, DecodedBatch
from harness.agent.session import AgentConfig, CaptureSession
from harness.device.android import AndroidDevice
from harness.device.android_adb import AdbEndpoint
from harness.testing.certs import make_pki
from harness.testing.tls_server import TLSServer
from tests.device_android.fakes import fake_phones
from tests.device_android.test_frida_server import fake_elf

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.frida, pytest.mark.slow]

CLIENT = """
import ssl, socket, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
for _ in range(600):
    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET /canary-7f3a91 HTTP/1.1\\r\\nHost: localhost\\r\\n"
                        b"Connection: close\\r\\n\\r\\n")
            while tls.recv(4096):
                pass
    time.sleep(0.2)
"""


def test_agent_captures_the_apps_tls_through_the_forward(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    client = tmp_path / "client.py"
    client.write_text(CLIENT, encoding="utf-8")
    binary = tmp_path / "frida-server"
    binary.write_bytes(fake_elf(183, frida.__version__))
    bundle = build_agent()
    with TLSServer(pki) as server:
        victim = shlex.join([sys.executable, str(client), str(server.port), str(pki.ca_cert)])
        with fake_phones(tmp_path, "--victim", victim) as ports:
            device = AndroidDevice("a1b2c3d4", [AdbEndpoint("127.0.0.1", int(ports["local"]))],
                                   frida_server=binary)
            channel = Channel()
            seen = b""
            with device, CaptureSession(device.frida_device(), bundle, channel, AgentConfig(),
                                        follow_children=False) as capture:
                pids = device.attach_running("com.android.chrome",
                                             lambda pid, name: capture.attach(pid))
                # generous: CI saw this fail once on a loaded machine (the loop ends early)
                deadline = time.monotonic() + 60
                while b"/canary-7f3a91" not in seen and time.monotonic() < deadline:
                    capture.flush()
                    while not channel.items.empty():
                        item = channel.items.get()
                        if isinstance(item, DecodedBatch):
                            seen += b"".join(r.data or b"" for r in item.rows)
                    time.sleep(0.2)
    assert pids == [int(ports["victim"])]
    assert b"GET /canary-7f3a91 HTTP/1.1" in seen

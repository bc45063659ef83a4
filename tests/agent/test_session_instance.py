"""The session tells each agent its instance in the process through ``init(config)``
(``agent``): 0 for the first script loaded into a pid, 1 for the one loaded into the image an
exec put there, and so on. The agent writes it into the ids it makes
(tests/hooks_java/test_agent_instance.py); here, what the session passes, through a real
exec chain (``sh -c 'exec env python3 ...'``) under child gating."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import frida

from harness.agent.bundle import AgentBundle
from harness.agent.channel import Channel, ProtocolError
from harness.agent.session import CaptureSession
from harness.protocol import ABI_VERSION

# An agent that only reports the config init() got, as a message the channel does not know
# (kept as a protocol error with the whole message).
ECHO = """
rpc.exports = {
  abiVersion() { return ABI; },
  init(config) { send({ type: "echo", config }); return []; },
  flush() { return 0; },
  dispose() { return { inflight: 0 }; },
  inflight() { return 0; },
};
""".replace("ABI", str(ABI_VERSION))


def test_each_image_of_an_exec_chain_gets_the_next_agent_instance(tmp_path: Path) -> None:
    channel = Channel()
    with CaptureSession(frida.get_local_device(), AgentBundle(ECHO, "echo", tmp_path / "e.js"),
                        channel, follow_children=True) as session:
        pid = session.spawn([shutil.which("sh") or "/bin/sh", "-c", 'exec "$@"', "sh",
                             shutil.which("env") or "/usr/bin/env", sys.executable, "-c",
                             "import time; time.sleep(0.5)"])
        assert session.wait(30)
    configs = []
    while not channel.items.empty():
        item = channel.items.get_nowait()
        if isinstance(item, ProtocolError) and item.message is not None:
            payload = json.loads(item.message)["payload"]
            assert item.pid is None or item.pid == pid
            configs.append(payload["config"])
    # sh, env, python: one agent per image, in order
    assert [c["agent"] for c in configs] == [0, 1, 2]
    assert all(c["followChildren"] is True for c in configs)

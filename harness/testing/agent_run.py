"""Run a command under the real agent and collect its decoded batches (for hook tests).

A thin driver straight on ``frida`` so agent tests do not depend on the recorder; the
product path is ``harness.agent.session`` + ``harness.capture.recorder``.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import frida

from harness.agent.bundle import AgentBundle, check_abi
from harness.agent.channel import Channel, Detached
from harness.protocol import JSON, Batch, NativeKind, NativeRecord, Record, decode_batch


@dataclass
class AgentRun:
    batches: list[Batch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Frida error messages (uncaught exceptions in the agent)."""
    init_result: JSON = None

    @property
    def records(self) -> list[Record]:
        return [r for b in self.batches for r in b.records]

    @property
    def native(self) -> list[NativeRecord]:
        return [n for b in self.batches for n in b.native]

    def stream(self, kind: NativeKind) -> bytes:
        return b"".join(n.body for n in self.native if n.kind == kind)


def run_under_agent(agent: AgentBundle, argv: Sequence[str], config: Mapping[str, JSON],
                    env: Mapping[str, str] | None = None, timeout: float = 60.0) -> AgentRun:
    """Spawn argv suspended, load the agent, resume, wait for exit (bounded)."""
    device = frida.get_local_device()
    exe = shutil.which(argv[0]) or argv[0]  # frida spawns by path, not through PATH
    pid = device.spawn([exe, *argv[1:]], env=dict(env) if env else None)
    result = AgentRun()
    gone = threading.Event()
    lock = threading.Lock()

    def on_message(message: frida.ScriptMessage, data: bytes | None) -> None:
        with lock:
            if message["type"] == "send":
                payload = message["payload"]
                assert isinstance(payload, dict)
                result.batches.append(decode_batch(payload, data))
            else:
                result.errors.append(f"{message.get('description')}\n{message.get('stack')}")

    session = device.attach(pid)
    session.on("detached", lambda *_: gone.set())
    try:
        script = session.create_script(agent.source)
        script.on("message", on_message)
        script.load()
        check_abi(script)
        # spawned suspended, like CaptureSession.spawn: the agent may use replaceFast
        result.init_result = script.exports_sync.init({"suspended": True, **config})
        device.resume(pid)
        deadline = time.monotonic() + timeout
        while not gone.wait(0.1):
            if time.monotonic() > deadline:
                device.kill(pid)
                raise TimeoutError(f"{argv[0]} did not exit within {timeout} s")
    finally:
        if not gone.is_set():
            with contextlib.suppress(frida.InvalidOperationError):
                session.detach()
    return result


def detach_reasons(channel: Channel, quiet: float = 2.0) -> list[str]:
    """The detach reasons a channel received, in order, once it stayed quiet for ``quiet``
    seconds (other items are dropped)."""
    reasons: list[str] = []
    while True:
        try:
            item = channel.items.get(timeout=quiet)
        except queue.Empty:
            return reasons
        if isinstance(item, Detached):
            reasons.append(item.reason)

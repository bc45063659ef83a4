"""Leaving a JVM that keeps running: a thread inside a hooked Java method when the capture
stops (an HTTP/2 reader blocked in JSSE's read, say) returns into the agent's entry code.
The agent counts the threads inside its Java entries; the controller waits for them before
it unloads (the bridge then puts the methods back), so the JVM runs on, unhooked."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import frida

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel, Detached
from harness.agent.session import AgentConfig, CaptureSession
from harness.testing.javafixtures import Fixtures, JavaDriver
from harness.testing.recording_server import RecordingServer, ServerCert


def test_unload_waits_for_a_java_thread_inside_a_hooked_read(
        fixtures: Fixtures, truststore: Path, cert: ServerCert) -> None:
    with RecordingServer(cert) as srv, \
            JavaDriver(fixtures.classpath(with_fixtures=False), truststore) as driver:
        channel = Channel()
        with CaptureSession(frida.get_local_device(), build_agent(), channel,
                            AgentConfig(native=False), follow_children=False) as session:
            session.attach(driver.pid)
            # A thread blocked in JSSE's AppInputStream.read (a C entry of the agent's). No
            # native hooks: their own count would cover its socket read.
            assert driver.command(f"jssehold 127.0.0.1 {srv.port}") == "holding"
            release = threading.Timer(2.0, srv.release.set)
            release.start()
            start = time.monotonic()
            session.stop_pid(driver.pid)
            waited = time.monotonic() - start
            release.join()
        # The unload waited for the held reader; nothing timed out.
        assert waited >= 1.5, f"unloaded after {waited:.2f} s, with a thread inside a Java entry"
        detached = []
        while not channel.items.empty():
            item = channel.items.get_nowait()
            if isinstance(item, Detached):
                detached.append(item.reason)
        assert not any("timeout" in r for r in detached), detached
        # The reader's call returned through the entry, and the JVM runs on without the agent:
        # its TLS (the methods put back) still works.
        assert driver.command("jsseheld") == "read 85"
        assert int(driver.command(f"jsse 127.0.0.1 {srv.port} after-unload")) > 0

"""Leaving a JVM that keeps running: a thread inside a hooked Java method when the capture
stops (an HTTP/2 reader blocked in JSSE's read, say) returns into the agent's entry code,
and threads keep calling hooked methods while the teardown runs. At dispose the agent puts
the methods back (no call enters an entry of ours after that) and reads from the JVM's
stacks which threads are still inside one; the controller waits for none before it unloads,
so the JVM runs on, unhooked."""

from __future__ import annotations

import glob
import threading
import time
from pathlib import Path

import frida
import pytest

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel, Detached
from harness.agent.session import AgentConfig, CaptureSession
from harness.errors import HarnessError
from harness.testing.javafixtures import Fixtures, JavaDriver
from harness.testing.recording_server import RecordingServer, ServerCert
from tests.hooks_java.support import hooked


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


def test_unload_while_threads_keep_entering_hooked_methods(
        fixtures: Fixtures, truststore: Path, cert: ServerCert, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Three threads connect, write, read and close JSSE sockets back to back (every call a
    hooked one) while the capture stops. Before the methods were put back at dispose, a
    thread entered a hooked method between the controller's last read of "none inside" and
    the unload, and the JVM crashed (SIGSEGV, hs_err in that thread: 1 of 10 rounds here, the
    held reader's close() in CI), or the threads never let the count reach 0 and the teardown
    killed the process after 20 s (3 of 10)."""
    monkeypatch.chdir(tmp_path)  # where a crashing JVM writes its hs_err file
    bundle = build_agent()
    for round_ in range(3):
        with RecordingServer(cert) as srv, \
                JavaDriver(fixtures.classpath(with_fixtures=False), truststore) as driver:
            channel = Channel()
            with CaptureSession(frida.get_local_device(), bundle, channel,
                                AgentConfig(native=False), follow_children=False) as session:
                session.attach(driver.pid)
                assert driver.command(f"jssechurn 127.0.0.1 {srv.port} 3") == "churning"
                time.sleep(0.3 + 0.3 * round_)
                session.stop_pid(driver.pid)
            try:
                churned = driver.command("jssechurned")
            except HarnessError:
                churned = "the JVM died"
            crashes = glob.glob(str(tmp_path / "hs_err_pid*.log"))
            assert crashes == [], (round_, crashes)
            assert churned.isdigit(), (round_, churned)
            # the threads ran on unhooked through the teardown, and the JVM still does TLS
            assert int(driver.command(f"jsse 127.0.0.1 {srv.port} after-unload")) > 0
            reasons = []
            while not channel.items.empty():
                item = channel.items.get_nowait()
                if isinstance(item, Detached):
                    reasons.append(item.reason)
            assert not any("timeout" in r for r in reasons), reasons


def test_after_dispose_no_thread_enters_a_hooked_method(
        fixtures: Fixtures, agent_source: str, truststore: Path, cert: ServerCert) -> None:
    """What makes the unload safe: once dispose() has put the methods back, threads that keep
    calling them run the originals, so "none inside" (inflight() == 0), once read, stays
    true. (With the methods left hooked until unload, the churning threads were inside in
    most reads: the controller's wait, then the unload, raced them.)"""
    with RecordingServer(cert) as srv, \
            hooked(fixtures, agent_source, truststore, with_fixtures=False) as h:
        assert h.driver.command(f"jssechurn 127.0.0.1 {srv.port} 3") == "churning"
        time.sleep(0.5)
        h.run.dispose()
        deadline = time.monotonic() + 10
        while h.run.script.exports_sync.inflight() != 0:
            assert time.monotonic() < deadline, "threads still inside 10 s after dispose"
            time.sleep(0.05)
        reads = []
        for _ in range(20):
            time.sleep(0.05)
            reads.append(h.run.script.exports_sync.inflight())
        assert reads == [0] * 20
        assert int(h.driver.command("jssechurned")) > 0

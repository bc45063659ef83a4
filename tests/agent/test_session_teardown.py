"""Teardown is bounded: a Frida unload that never returns does not hang the run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import frida
import pytest

import harness.agent.session as session_module
from harness.agent.bundle import AgentBundle
from harness.agent.channel import Channel
from harness.agent.session import CaptureSession
from harness.agent.unmapped import agent_mapped, wait_unmapped
from harness.errors import AgentError
from harness.protocol import ABI_VERSION
from harness.testing.agent_run import detach_reasons

# Frida calls rpc.exports.dispose when a script unloads: this one never finishes, as the
# unload of a busy JVM once never did.
STUCK = """
rpc.exports = {
  abiVersion() { return ABI; },
  init(config) { return []; },
  flush() { return 0; },
  dispose() { const end = Date.now() + 120000; while (Date.now() < end) {} },
};
""".replace("ABI", str(ABI_VERSION))

# an agent that answers every teardown step at once
QUIET = """
rpc.exports = {
  abiVersion() { return ABI; },
  init(config) { return []; },
  flush() { return 0; },
  dispose() { return {}; },
  inflight() { return 0; },
};
""".replace("ABI", str(ABI_VERSION))


def _victim() -> subprocess.Popen[str]:
    """A process to attach to, once it runs its own code (attaching mid-exec can fail)."""
    victim = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True);"
                               " time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    assert victim.stdout is not None
    assert victim.stdout.readline().strip() == "ready"
    return victim


def _end(victim: subprocess.Popen[str]) -> None:
    victim.kill()
    victim.wait(timeout=10)
    if victim.stdout is not None:
        victim.stdout.close()


def test_a_dispose_that_never_returns_is_cut_off_and_recorded(tmp_path: Path) -> None:
    victim = _victim()
    try:
        channel = Channel()
        session = CaptureSession(frida.get_local_device(),
                                 AgentBundle(STUCK, "stuck", tmp_path / "stuck.js"), channel,
                                 follow_children=False)
        session.teardown_timeout = 2.0
        session.attach(victim.pid)
        session.stop_pid(victim.pid)
        assert victim.wait(timeout=30) == -signal.SIGKILL
        assert session.alive() == []
        reasons = detach_reasons(channel, quiet=5)
        # flush returned, so the capture is whole; the agent's dispose (also what Frida's
        # unload calls first) never does
        assert any(r.startswith("teardown-timeout-after-flush: dispose did not return")
                   for r in reasons), reasons
    finally:
        _end(victim)


QUIET = """
rpc.exports = {
  abiVersion() { return ABI; },
  init(config) { return []; },
  flush() { return 0; },
  dispose() { return { inflight: 0 }; },
  inflight() { return 0; },
};
""".replace("ABI", str(ABI_VERSION))


def test_a_detach_the_harness_did_not_ask_for_is_recorded_as_such(tmp_path: Path) -> None:
    # Frida's host reports "application-requested" when a forked child's copy of a session
    # closes late (docs/capture.md, children) while the process runs on: recorded as
    # "unrequested-detach", which verdicts count as a blind spot. The harness's own detach
    # at teardown keeps Frida's reason.
    victims = [_victim(), _victim()]
    try:
        channel = Channel()
        session = CaptureSession(frida.get_local_device(),
                                 AgentBundle(QUIET, "quiet", tmp_path / "quiet.js"), channel,
                                 follow_children=False)
        session.attach(victims[0].pid)
        session.attach(victims[1].pid)
        session.targets[victims[0].pid].session.detach()  # not through the CaptureSession
        session.stop_pid(victims[1].pid)
        reasons = detach_reasons(channel)
        assert [r.split(":")[0] for r in reasons] == ["unrequested-detach",
                                                      "application-requested"], reasons
        assert session.alive() == []
        session.stop()
    finally:
        for v in victims:
            _end(v)


def test_teardown_returns_once_the_agent_has_left_the_process(tmp_path: Path) -> None:
    """detach returns while the agent still unloads in the target; a process ended in that
    window (the lab browser told to quit) crashed in agent code. stop_pid waits it out."""
    victim = _victim()
    try:
        _in_and_out(_quiet(tmp_path), victim.pid)
    finally:
        _end(victim)


def _quiet(tmp_path: Path) -> CaptureSession:
    return CaptureSession(frida.get_local_device(),
                          AgentBundle(QUIET, "quiet", tmp_path / "quiet.js"), Channel(),
                          follow_children=False)


def _in_and_out(session: CaptureSession, pid: int) -> None:
    """Attach, and stop: the agent mapped in between, gone after."""
    session.attach(pid)
    assert agent_mapped(pid) is True
    session.stop_pid(pid)
    assert agent_mapped(pid) is False


def test_wait_unmapped_reads_the_maps(tmp_path: Path) -> None:
    maps = tmp_path / "7" / "maps"
    maps.parent.mkdir()
    maps.write_text("7f0-7f1 r-xp 0 00:01 1  /memfd:frida-agent-64.so (deleted)\n")
    assert agent_mapped(7, tmp_path) is True
    assert wait_unmapped(7, timeout=0.05, proc=tmp_path) is False
    maps.write_text("7f0-7f1 r-xp 0 00:01 1  /usr/lib/x86_64-linux-gnu/libc.so.6\n")
    assert agent_mapped(7, tmp_path) is False
    assert wait_unmapped(7, timeout=0.05, proc=tmp_path) is True
    assert agent_mapped(8, tmp_path) is None  # gone, or not a local process
    assert wait_unmapped(8, timeout=0.05, proc=tmp_path) is True


def test_no_attach_to_a_pid_whose_last_agent_still_unloads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An agent still mapped ``teardown_timeout`` after the detach (a busy JVM's, once in ~300
    attach/stop cycles here, docs/java.md): Frida's next attach to the pid waited for that
    unload without end. The harness says so instead; once the agent is gone, attach works."""
    victim = _victim()
    try:
        session = _quiet(tmp_path)
        session.teardown_timeout = 0.5
        session.attach(victim.pid)
        stays = [True]  # the unload that does not finish, as the session sees it
        monkeypatch.setattr(session_module, "wait_unmapped",
                            lambda pid, timeout: not stays[0] and wait_unmapped(pid, timeout))
        session.stop_pid(victim.pid)
        with pytest.raises(AgentError, match=f"pid {victim.pid}: the agent detached from it"
                                             " earlier is still mapped"):
            session.attach(victim.pid)
        assert victim.poll() is None
        assert session.alive() == []
        stays[0] = False  # it leaves (the real unload, given the time it takes under load)
        session.teardown_timeout = 20.0
        _in_and_out(session, victim.pid)
    finally:
        _end(victim)

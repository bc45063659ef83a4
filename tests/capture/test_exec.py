"""`harness capture` of a command that execs (`env python3 ...`, `sh -c 'exec ...'`, a
program that execs itself): the exec'd program's traffic is captured, under the same pid
and a new agent instance, or the run says what was not seen (fuzz14 F09). Real agent, real
clients, a plain HTTP server on 127.0.0.1; every capture is bounded by --timeout."""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import frida
import pytest

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir, blinding_detach
from harness.cli import main
from harness.testing.plain_server import PlainHTTPServer

CLIENT = textwrap.dedent("""
    import http.client, os, sys, time
    port, tag, n, delay, then = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), \\
        float(sys.argv[4]), sys.argv[5:]
    time.sleep(delay)
    for i in range(n):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/x", body=f"who={tag}&i={i}".encode())
        assert c.getresponse().read() == b"ok"
        c.close()
    if then:
        os.execv(then[0], then)  # same pid, a new program (and a new agent)
""")


def _capture(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
             *options: str) -> tuple[RunDir, str]:
    code = main(["capture", "--out", str(tmp_path / "runs"), "--timeout", "60", *options,
                 "--", *argv])
    assert code == 0
    (path,) = list((tmp_path / "runs").iterdir())
    return RunDir.open(path), capsys.readouterr().out


def _sent(run: RunDir) -> dict[str, bytes]:
    """conn id → the bytes captured going out on it (plain TCP)."""
    with run.reader() as r:
        return {c: b"".join(e.data or b"" for e in r.events(kinds=["stream"], conn=c)
                            if e.direction == "out")
                for c, info in r.connections().items() if info.layer == "tcp"}


def _client(tmp_path: Path, port: int, tag: str, n: int = 3, delay: float = 0.0,
            then: tuple[str, ...] = ()) -> list[str]:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    return [sys.executable, str(script), str(port), tag, str(n), str(delay), *then]


@pytest.mark.parametrize("wrapper", ["env", "sh-exec"])
def test_an_exec_d_program_is_captured_with_follow_children(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], wrapper: str) -> None:
    # Frida reports the exec as process-replaced, then announces the new image (origin
    # "exec") held at its first instruction. Before, wait() had already returned (its only
    # target gone) and the image stayed held: no traffic at all, a "complete" run.
    with PlainHTTPServer() as server:
        client = _client(tmp_path, server.port, "execd")
        argv = (["env", *client] if wrapper == "env"
                else [shutil.which("sh") or "/bin/sh", "-c", 'exec "$@"', "sh", *client])
        run, out = _capture(tmp_path, capsys, argv, "--follow-children")
    assert len(server.connections) == 3
    sent = _sent(run)
    assert sorted(sent.values()) == sorted(bytes(c.received) for c in server.connections)
    info = run.load_info()
    (pid,) = {d["pid"] for d in info.health.detached}
    # the new image's agent is the pid's second: its ids say so
    assert all(c.startswith(f"{pid}.1:tcp:") for c in sent), sent
    assert [d["reason"] for d in info.health.detached] == [
        "process-replaced", "process-terminated"]
    assert info.health.sequence_gaps == 0
    assert "not captured" not in out


def test_a_program_that_execs_itself_keeps_both_images_apart(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Both agents number their first connection alike: the ids carry the agent instance.
    with PlainHTTPServer() as server:
        second = _client(tmp_path, server.port, "second", n=2)
        run, out = _capture(tmp_path, capsys,
                            _client(tmp_path, server.port, "first", n=2, then=tuple(second)),
                            "--follow-children")
    assert len(server.connections) == 4
    sent = _sent(run)
    assert sorted(sent.values()) == sorted(bytes(c.received) for c in server.connections)
    pid = run.load_info().health.detached[0]["pid"]
    first = sorted(c for c, data in sent.items() if b"who=first" in data)
    later = sorted(c for c, data in sent.items() if b"who=second" in data)
    assert len(first) == len(later) == 2
    assert all(c.startswith(f"{pid}:tcp:") for c in first)
    assert all(c.startswith(f"{pid}.1:tcp:") for c in later)
    with run.reader() as r:
        agents = {(b[1], b[6]) for b in r.batches()}
    assert agents == {(pid, 0), (pid, 1)}
    assert run.load_info().health.sequence_gaps == 0
    assert "not captured" not in out


def test_without_follow_children_an_exec_is_a_blind_spot_and_captured_late(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Without child gating Frida says process-terminated at the exec while the pid runs on.
    # Before, the capture ended there: a "complete" run with nothing flagged while the
    # exec'd program sent unobserved. Now the pid is instrumented again, late, and the run
    # records the blind spot (verdicts: INCONCLUSIVE).
    with PlainHTTPServer() as server:
        run, out = _capture(tmp_path, capsys,
                            ["env", *_client(tmp_path, server.port, "late", delay=2.0)])
    assert len(server.connections) == 3
    sent = _sent(run)
    # sent after the harness came back: each connection captured byte-exact
    assert sorted(sent.values()) == sorted(bytes(c.received) for c in server.connections)
    info = run.load_info()
    blind = [d for d in info.health.detached if blinding_detach(d["reason"])]
    assert len(blind) == 1, info.health.detached
    assert str(blind[0]["reason"]).startswith("unfollowed-exec:")
    assert "instrumented again after" in str(blind[0]["reason"])
    assert f"not captured: pid {blind[0]['pid']}: unfollowed-exec" in out


def test_without_follow_children_a_short_exec_d_program_is_flagged_never_held(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The exec'd program is done before the harness could attach again: its traffic was not
    # seen, and the run says so. It ran to its end (the server got everything).
    with PlainHTTPServer() as server:
        run, out = _capture(tmp_path, capsys,
                            ["env", *_client(tmp_path, server.port, "quick", n=1)])
    assert len(server.connections) == 1
    blind = [d for d in run.load_info().health.detached if blinding_detach(d["reason"])]
    assert [str(d["reason"]).split(":")[0] for d in blind] == ["unfollowed-exec"]
    assert "not captured: pid" in out


@pytest.mark.parametrize("execs", [2, 3])
def test_a_chain_of_execs_is_followed_to_the_last_image(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], execs: int) -> None:
    # `sh -c 'exec env [env] python3 client.py'`: one pid, execs+1 images. Each exec is one
    # process-replaced and one announcement, in either order, and a pid's first exec must
    # not leave anything that makes wait() skip its next one: the last image (the only one
    # that sends) was then held, released uninstrumented as the capture stopped, and its
    # connections missed.
    env = shutil.which("env") or "/usr/bin/env"
    with PlainHTTPServer() as server:
        client = _client(tmp_path, server.port, "chained")
        argv = [shutil.which("sh") or "/bin/sh", "-c", 'exec "$@"', "sh",
                *[env] * (execs - 1), *client]
        run, out = _capture(tmp_path, capsys, argv, "--follow-children")
    assert len(server.connections) == 3
    sent = _sent(run)
    assert sorted(sent.values()) == sorted(bytes(c.received) for c in server.connections)
    info = run.load_info()
    (pid,) = {d["pid"] for d in info.health.detached}
    assert all(c.startswith(f"{pid}.{execs}:tcp:") for c in sent), sent
    assert [d["reason"] for d in info.health.detached] == [
        *["process-replaced"] * execs, "process-terminated"]
    with run.reader() as r:
        assert {b[6] for b in r.batches()} <= set(range(execs + 1))
    assert info.health.sequence_gaps == 0
    assert "not captured" not in out


class _AnnouncedFirst:
    """The local Frida device, with one difference in what it reports: the first image's
    ``process-replaced`` reaches the session last, after Frida's announcement of the exec'd
    image and after that image's own exec was reported (Frida may report an exec's two
    events in either order; on this machine the announcement comes second). The session
    then hears the first image's end from a session it replaced two images ago. Everything
    else is Frida's own."""

    def __init__(self) -> None:
        self.device = frida.get_local_device()
        self.delayed = 0
        self.later_ended = threading.Event()
        self.threads: list[threading.Thread] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.device, name)

    def attach(self, pid: int) -> _Session:
        return _Session(self.device.attach(pid), self)

    def deliver_late(self, deliver: Callable[[], None]) -> None:
        def later() -> None:
            self.later_ended.wait(20)
            time.sleep(0.2)
            deliver()

        th = threading.Thread(target=later, daemon=True)
        self.threads.append(th)
        th.start()


class _Session:
    def __init__(self, session: frida.core.Session, device: _AnnouncedFirst) -> None:
        self.session = session
        self._device = device

    def __getattr__(self, name: str) -> object:
        return getattr(self.session, name)

    def on(self, signal: str, callback: Callable[..., None]) -> None:
        if signal != "detached":
            self.session.on(signal, callback)
            return

        def detached(reason: str, crash: object) -> None:
            if reason == "process-replaced" and self._device.delayed == 0:
                self._device.delayed += 1
                self._device.deliver_late(lambda: callback(reason, crash))
                return
            callback(reason, crash)
            self._device.later_ended.set()

        self.session.on("detached", detached)


def test_an_exec_announced_before_its_old_image_ends_leaves_the_next_exec_waited_for(
        tmp_path: Path) -> None:
    # `sh -c 'exec env python3 client.py'` with the first exec reported announcement first.
    # The old image's process-replaced then came from a session already replaced, was not
    # matched with the announcement, and the pid's second exec (env -> python3, reported
    # in the usual order) was taken as announced already: wait() returned with the last
    # image held, which the stop released uninstrumented (a blind spot, the run's only
    # traffic unseen).
    device = _AnnouncedFirst()
    env = shutil.which("env") or "/usr/bin/env"
    with PlainHTTPServer() as server:
        run = RunDir.create(tmp_path)
        channel = Channel()
        with Recorder(run, channel), CaptureSession(
                device, build_agent(), channel,  # type: ignore[arg-type]
                AgentConfig(), follow_children=True) as session:
            session.spawn([shutil.which("sh") or "/bin/sh", "-c", 'exec "$@"', "sh", env,
                           *_client(tmp_path, server.port, "announced", delay=0.5)])
            assert session.wait(60)
        for th in device.threads:
            th.join(20)
    assert device.delayed == 1
    assert len(server.connections) == 3
    sent = _sent(run)
    assert sorted(sent.values()) == sorted(bytes(c.received) for c in server.connections)
    info = run.load_info()
    (pid,) = {d["pid"] for d in info.health.detached}
    assert all(c.startswith(f"{pid}.2:tcp:") for c in sent), sent
    assert not [d for d in info.health.detached if blinding_detach(d["reason"])], \
        info.health.detached
    assert sorted(d["reason"] for d in info.health.detached) == [
        "process-replaced", "process-replaced", "process-terminated"]

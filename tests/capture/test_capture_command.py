"""`harness capture` end to end: real agent, real clients, real TLS server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from harness.capture.rundir import RunDir
from harness.cli import main
from harness.testing.certs import PKIFiles
from harness.testing.tls_server import TLSServer

CLIENT = textwrap.dedent("""
    import http.client, os, ssl, sys, time
    port, ca, n, fork = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "fork"
    delay = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
    def post(tag):
        ctx = ssl.create_default_context(cafile=ca)
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        for i in range(n):
            conn.request("POST", "/c", body=f"who={tag}&canary=CANARY-c4p7&i={i}".encode())
            assert conn.getresponse().read() == b"ok"
            time.sleep(delay)
        conn.close()
    if fork:
        # fork + exec of a new program, the way apps start helpers
        import subprocess
        subprocess.run([sys.executable, __file__, *sys.argv[1:4], "child"], check=True)
    if sys.argv[4] == "barefork":
        # fork() without exec, right after `import ssl` hooked libssl: the child is a copy
        # of the instrumented parent (docs/capture.md, children)
        pid = os.fork()
        if pid == 0:
            post("forked")
            os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
    if sys.argv[4] == "closerange":
        os.closerange(3, 1 << 16)  # close_range(2), as a daemon or a child before exec does
    post("child" if sys.argv[4] == "child" else "parent")
""")


def _only_run(parent: Path) -> RunDir:
    (path,) = list(parent.iterdir())
    return RunDir.open(path)


def _capture(tmp_path: Path, pki: PKIFiles, server: TLSServer, mode: str,
             capsys: pytest.CaptureFixture[str], *options: str) -> tuple[RunDir, str]:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    code = main(["capture", "--out", str(tmp_path / "runs"), "--needle", "canary=CANARY-c4p7",
                 *options, "--", sys.executable, str(script), str(server.port),
                 str(pki.ca_cert), "3", mode])
    assert code == 0
    return _only_run(tmp_path / "runs"), capsys.readouterr().out


def test_capture_is_byte_exact_per_connection(tmp_path: Path, pki: PKIFiles,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with TLSServer(pki) as server:
        run, out = _capture(tmp_path, pki, server, "nofork", capsys)
    (log,) = server.connections
    with run.reader() as r:
        conns = r.connections()
        (conn,) = conns.values()
        sent = b"".join(e.data or b"" for e in r.events(kinds=["stream"], conn=conn.conn)
                        if e.direction == "out")
        got = b"".join(e.data or b"" for e in r.events(kinds=["stream"], conn=conn.conn)
                       if e.direction == "in")
    assert sent == bytes(log.received)
    assert got == bytes(log.sent)
    assert (conn.peer_ip, conn.peer_port, conn.sni) == ("127.0.0.1", server.port, "localhost")
    assert conn.tls_version == log.version
    info = run.load_info()
    assert info.status == "complete"
    assert info.health.sequence_gaps == 0
    assert info.health.bytes_hooked_out == len(log.received)
    assert "needle canary: seen in 3 event(s)" in out


def test_children_are_left_unharmed_by_default(tmp_path: Path, pki: PKIFiles,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Without --follow-children the child runs uninstrumented: the parent is captured, the
    # child completes its own TLS session, and run.json says children were not followed.
    with TLSServer(pki) as server:
        run, _ = _capture(tmp_path, pki, server, "fork", capsys)
    assert len(server.connections) == 2
    with run.reader() as r:
        out = b"".join(e.data or b"" for e in r.events(kinds=["stream"]) if e.direction == "out")
    assert b"who=parent" in out
    assert run.load_info().extra["follow_children"] is False


def test_close_range_leaves_the_agent_attached_when_following_children(
        tmp_path: Path, pki: PKIFiles, capsys: pytest.CaptureFixture[str]) -> None:
    # Child gating guards Frida's sockets against close() only: close_range(3, ~0) (Python's
    # subprocess runs it in every forked child before exec) closed them, and the process then
    # never exited (two agent threads spinning) while the capture waited for it. With
    # --follow-children the agent keeps them open (hooks/src/children.ts): the process is
    # captured, byte-exact, after closing every descriptor above 2, and exits.
    with TLSServer(pki) as server:
        run, _ = _capture(tmp_path, pki, server, "closerange", capsys, "--follow-children")
    (log,) = server.connections
    with run.reader() as r:
        sent = b"".join(e.data or b"" for e in r.events(kinds=["stream"]) if e.direction == "out")
    assert sent == bytes(log.received)
    assert b"CANARY-c4p7" in sent
    info = run.load_info()
    assert info.extra["follow_children"] is True
    assert [d["reason"] for d in info.health.detached] == ["process-terminated"]


@pytest.mark.parametrize("mode", ["fork", "barefork"])
def test_follow_children_captures_each_child_with_its_pid(
        tmp_path: Path, pki: PKIFiles, capsys: pytest.CaptureFixture[str], mode: str) -> None:
    # --follow-children: a child made by fork+exec (subprocess) and one made by a bare fork
    # right after the agent hooked libssl are each captured byte-exact, as their own pid,
    # and the parent stays captured after the fork. Before 2026-12-06 the bare fork lost the
    # child or the parent in 7-11 of 12 runs (bench/README.md, "children").
    child = "who=child" if mode == "fork" else "who=forked"
    for attempt in range(2):
        work = tmp_path / f"attempt{attempt}"
        work.mkdir()
        with TLSServer(pki) as server:
            run, out = _capture(work, pki, server, mode, capsys, "--follow-children")
        never_ran = not any(child.encode() in bytes(log.received) for log in server.connections)
        if not never_ran or attempt == 1:
            break
        # The child never ran its code: Frida's fork recovery crashed it (SIGSEGV inside
        # frida-agent) before Frida announced it, in 1-3% of forks on this machine
        # (docs/capture.md, children). The run must say so; then one more attempt. Any
        # other failure, or the same crash twice, fails the test.
        lost = [d for d in run.load_info().health.detached
                if str(d["reason"]).startswith("lost-after-fork")]
        assert len(lost) == 1, run.load_info().health.detached
        assert f"not captured: pid {lost[0]['pid']}: lost-after-fork" in out
        warnings.warn(f"{mode}: the child died in Frida's fork recovery ({lost[0]['reason']}); "
                      "retried once", stacklevel=1)
    assert len(server.connections) == 2
    with run.reader() as r:
        conns = [c for c in r.connections().values() if c.layer == "tls"]
        sent = {c.pid: b"".join(e.data or b"" for e in r.events(kinds=["stream"], conn=c.conn)
                                if e.direction == "out") for c in conns}
        reaped = [(e.pid, e.fields["child"], e.fields["status"])
                  for e in r.events(kinds=["process"])]
    assert len(conns) == 2, conns
    assert len(sent) == 2, conns  # each connection in its own pid
    assert sorted(sent.values()) == sorted(bytes(log.received) for log in server.connections)
    (parent,) = [pid for pid, data in sent.items() if b"who=parent" in data]
    (child_pid,) = [pid for pid, data in sent.items() if child.encode() in data]
    # the parent's agent saw it wait for the child, which exited with 0
    assert reaped == [(parent, child_pid, 0)]
    info = run.load_info()
    # the exec'd child is instrumented again after exec: its first image is "replaced"
    replaced = ["process-replaced"] if mode == "fork" else []
    assert sorted(d["reason"] for d in info.health.detached) == [
        *replaced, "process-terminated", "process-terminated"]
    assert info.health.sequence_gaps == 0
    assert "needle canary: seen in 6 event(s)" in out


def test_canary_in_jsonl_export(tmp_path: Path, pki: PKIFiles,
                                capsys: pytest.CaptureFixture[str]) -> None:
    with TLSServer(pki) as server:
        run, _ = _capture(tmp_path, pki, server, "nofork", capsys)
    dest = tmp_path / "events.jsonl"
    assert main(["export", str(run.path), "--format", "jsonl", "-o", str(dest)]) == 0
    rows = [json.loads(line) for line in dest.read_text().splitlines()]
    streams = [r for r in rows if r["kind"] == "stream" and r["direction"] == "out"]
    assert streams
    assert {r["port"] for r in streams} == {server.port}
    assert {r["host"] for r in streams} == {"localhost"}
    import base64
    assert any(b"CANARY-c4p7" in base64.b64decode(r["data"]) for r in streams)
    expected = ["seq", "t", "kind", "pid", "tid", "conn", "direction", "host", "ip", "port",
                "tls_version", "cipher", "hook", "data", "truncated"]
    assert list(rows[0])[: len(expected)] == expected


def test_sigkill_of_the_harness_keeps_committed_batches(tmp_path: Path, pki: PKIFiles) -> None:
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    with TLSServer(pki) as server:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", "capture", "--out", str(tmp_path / "runs"),
             "--", sys.executable, str(script), str(server.port), str(pki.ca_cert), "400",
             "nofork", "0.01"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                if sum(len(c.received) for c in server.connections) > 20_000:
                    break
                time.sleep(0.1)
            time.sleep(0.3)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        received = server.received_total()
    run = _only_run(tmp_path / "runs")
    with run.reader() as r:
        out = b"".join(e.data or b"" for e in r.events(kinds=["stream"]) if e.direction == "out")
        batches = r.batches()
    assert len(batches) > 1
    assert len(out) > 10_000
    # what was committed is an intact prefix of what the server received
    assert received.startswith(out)

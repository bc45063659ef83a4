"""Hook overhead: a keep-alive HTTPS client at its top rate, without Frida and under capture.

The client and the server are C (``harness/testing/csrc/keepalive.c``, OpenSSL 3, built
here with gcc) so the figure is the cost of the hooks on SSL_write/SSL_read plus the capture
pipeline, not a Python client's own per-request overhead (which would hide most of it). The
client POSTs one request per SSL_write on one connection for ``--seconds``, counting requests
inside itself from after the handshake (Frida's spawn and injection are not counted). The
server, never instrumented, answers each request and reports the bytes it received and their
SHA-256.

Each round runs the client twice, once plain and once through the product capture path
(:func:`harness.capture.job.capture_command`, what ``harness capture`` calls, in this
process), alternating which goes first so drift in the machine's load cancels out. Per round:
requests/s of both and their ratio; the bytes the capture holds for the connection (sum and
SHA-256 of its outgoing stream, in order) against the server's; and the controller's CPU
(this process's user+sys, i.e. the harness: Frida's message thread, decoding, SQLite).

    PYTHONPATH=. python bench/hook_overhead.py --rounds 5 --seconds 3 [--json]

``--client python`` runs the Python twin (``bench/keepalive_client.py``); ``--breakdown`` adds
a third run per round with the agent injected but its messages dropped on arrival, which
splits the overhead into the target's share (hooks and the agent's drain) and the
controller's (decoding and SQLite competing for the same cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import frida

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.job import capture_command
from harness.capture.rundir import RunDir
from harness.testing.certs import PKIFiles, make_pki
from harness.testing.keepalive import (
    ClientResult,
    KeepaliveServer,
    ServerResult,
    build_keepalive,
    client_argv,
)

PY_CLIENT = Path(__file__).resolve().parent / "keepalive_client.py"
CLIENTS = {
    "c": "harness/testing/csrc/keepalive.c (C, OpenSSL 3, one keep-alive connection)",
    "python": "bench/keepalive_client.py (Python http.client over ssl, one keep-alive "
              "connection)",
}


@dataclass(frozen=True, slots=True)
class ClientRun:
    requests: int
    seconds: float
    sent: int
    cpu: float
    """The client process's user+sys seconds over the measured loop (Frida's agent threads
    in it included, when captured)."""
    thread_cpu: float
    """The same for the client's loop thread alone: what the hooks cost on the hot path."""
    server_received: int
    server_sha256: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True, slots=True)
class Round:
    plain: ClientRun
    captured: ClientRun
    captured_bytes: int
    """Bytes of the connection's outgoing stream in capture.sqlite."""
    captured_sha256: str
    controller_cpu: float
    """user+sys seconds of this process during capture_command."""
    controller_wall: float
    batches: int
    sequence_gaps: int
    discarded: ClientRun | None = None
    """``--breakdown``: the client under the agent whose messages the controller drops."""

    @property
    def ratio(self) -> float:
        return self.captured.rate / self.plain.rate

    @property
    def lost(self) -> int:
        return self.captured.server_received - self.captured_bytes

    @property
    def exact(self) -> bool:
        return self.captured_sha256 == self.captured.server_sha256


@dataclass(frozen=True, slots=True)
class Client:
    """Which keep-alive client runs: the C one (default) or the Python http.client one."""

    kind: str
    exe: Path
    """The built C program (also the server)."""

    def argv(self, port: int, pki: PKIFiles, seconds: float, body: int,
             result: Path) -> list[str]:
        if self.kind == "python":
            return [sys.executable, str(PY_CLIENT), str(port), str(pki.ca_cert), f"{seconds}",
                    str(body), str(result)]
        return client_argv(self.exe, port, pki, seconds, body, result)


def _client_run(result: Path, server: ServerResult) -> ClientRun:
    r = ClientResult.load(result)
    return ClientRun(r.requests, r.seconds, r.sent, r.cpu, r.thread_cpu, server.received,
                     server.sha256)


def run_plain(client: Client, pki: PKIFiles, work: Path, seconds: float,
              body: int) -> ClientRun:
    result = work / "plain.json"
    with KeepaliveServer(client.exe, pki, work) as server:
        subprocess.run(client.argv(server.port, pki, seconds, body, result), check=True,
                       timeout=seconds + 60)
        return _client_run(result, server.result())


def run_captured(client: Client, pki: PKIFiles, work: Path, seconds: float, body: int,
                 config: AgentConfig) -> tuple[ClientRun, RunDir, float, float]:
    result = work / "captured.json"
    with KeepaliveServer(client.exe, pki, work) as server:
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.monotonic()
        job = capture_command(client.argv(server.port, pki, seconds, body, result),
                              work / "runs", config=config, timeout=seconds + 120)
        wall = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if not job.exited:
            sys.exit("the captured client did not finish")
        return _client_run(result, server.result()), job.run, cpu, wall


class _Discard(Channel):
    """A channel that drops every message: the agent's cost without the controller's."""

    def on_message(self, message: Mapping[str, object], data: bytes | None) -> None:
        return None


def run_discarded(client: Client, pki: PKIFiles, work: Path, seconds: float, body: int,
                  config: AgentConfig) -> ClientRun:
    """``--breakdown``: the agent injected and draining as usual, its messages dropped on
    arrival (no decoding, no SQLite). Not the product path: it splits the overhead into the
    target's share and the controller's."""
    result = work / "discarded.json"
    with KeepaliveServer(client.exe, pki, work) as server:
        with CaptureSession(frida.get_local_device(), build_agent(), _Discard(), config,
                            follow_children=False) as session:
            session.spawn(client.argv(server.port, pki, seconds, body, result))
            if not session.wait(seconds + 120):
                session.kill()
                sys.exit("the client under the discarding agent did not finish")
        return _client_run(result, server.result())


def captured_stream(run: RunDir) -> tuple[int, str]:
    """Size and SHA-256 of everything the capture holds as sent (one connection expected)."""
    digest = hashlib.sha256()
    total = 0
    with run.reader() as reader:
        for event in reader.events(kinds=["stream"]):
            if event.direction == "out" and event.data:
                digest.update(event.data)
                total += len(event.data)
    return total, digest.hexdigest()


def one_round(index: int, client: Client, pki: PKIFiles, work: Path, seconds: float, body: int,
              config: AgentConfig, keep: bool, breakdown: bool) -> Round:
    order = ["plain", "captured"] + (["discarded"] if breakdown else [])
    if index % 2:
        order.reverse()
    plain: ClientRun | None = None
    discarded: ClientRun | None = None
    captured: tuple[ClientRun, RunDir, float, float] | None = None
    for which in order:
        if which == "plain":
            plain = run_plain(client, pki, work, seconds, body)
        elif which == "discarded":
            discarded = run_discarded(client, pki, work, seconds, body, config)
        else:
            captured = run_captured(client, pki, work, seconds, body, config)
    assert plain is not None
    assert captured is not None
    under, run, cpu, wall = captured
    nbytes, sha = captured_stream(run)
    health = run.load_info().health
    if not keep:
        shutil.rmtree(run.path, ignore_errors=True)
    return Round(plain, under, nbytes, sha, cpu, wall, health.batches, health.sequence_gaps,
                 discarded)


def summary(rounds: Sequence[Round], args: argparse.Namespace) -> dict[str, object]:
    ratios = [r.ratio for r in rounds]
    with_discard = [r for r in rounds if r.discarded is not None]
    breakdown: dict[str, object] = {}
    if with_discard:
        breakdown = {"discarded_ratio_median": statistics.median(
            r.discarded.rate / r.plain.rate for r in with_discard if r.discarded)}
    return {
        "client": CLIENTS[args.client],
        **breakdown,
        "rounds": len(rounds), "seconds": args.seconds, "body_bytes": args.body,
        "flush_interval_ms": args.flush_ms,
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "plain_rps_median": statistics.median(r.plain.rate for r in rounds),
        "captured_rps_median": statistics.median(r.captured.rate for r in rounds),
        "bytes_server_received": sum(r.captured.server_received for r in rounds),
        "bytes_captured": sum(r.captured_bytes for r in rounds),
        "bytes_lost": sum(r.lost for r in rounds),
        "byte_exact_rounds": sum(1 for r in rounds if r.exact),
        "sequence_gaps": sum(r.sequence_gaps for r in rounds),
        "controller_cpu_s_median": statistics.median(r.controller_cpu for r in rounds),
        "controller_cpu_us_per_request_median": statistics.median(
            1e6 * r.controller_cpu / r.captured.requests for r in rounds),
        "controller_cpu_share_median": statistics.median(
            r.controller_cpu / r.controller_wall for r in rounds),
        "client_cpu_us_per_request_plain": statistics.median(
            1e6 * r.plain.cpu / r.plain.requests for r in rounds),
        "client_cpu_us_per_request_captured": statistics.median(
            1e6 * r.captured.cpu / r.captured.requests for r in rounds),
        "client_thread_cpu_us_per_request_plain": statistics.median(
            1e6 * r.plain.thread_cpu / r.plain.requests for r in rounds),
        "client_thread_cpu_us_per_request_captured": statistics.median(
            1e6 * r.captured.thread_cpu / r.captured.requests for r in rounds),
        "load_average": os.getloadavg()[0],
        "per_round": [{**asdict(r), "ratio": r.ratio, "lost": r.lost, "exact": r.exact}
                      for r in rounds],
    }


def print_table(rounds: Sequence[Round], s: dict[str, object]) -> None:
    print(f"{'round':>5} {'plain req/s':>12} {'captured':>10} {'ratio':>6} {'server B':>11} "
          f"{'captured B':>11} {'exact':>5} {'ctl cpu s':>9} {'ctl wall s':>10}")
    for i, r in enumerate(rounds):
        print(f"{i:>5} {r.plain.rate:>12.0f} {r.captured.rate:>10.0f} {r.ratio:>6.1%} "
              f"{r.captured.server_received:>11} {r.captured_bytes:>11} "
              f"{'yes' if r.exact else 'NO':>5} {r.controller_cpu:>9.2f} "
              f"{r.controller_wall:>10.2f}" + (
                  f"  (agent, messages dropped: {r.discarded.rate:.0f} req/s, "
                  f"{r.discarded.rate / r.plain.rate:.1%})" if r.discarded else ""))
    print(f"ratio median {s['ratio_median']:.1%} (min {s['ratio_min']:.1%}, "
          f"max {s['ratio_max']:.1%}); bytes lost {s['bytes_lost']} of "
          f"{s['bytes_server_received']}; byte-exact rounds {s['byte_exact_rounds']}/"
          f"{len(rounds)}; controller CPU {s['controller_cpu_share_median']:.0%} of a core, "
          f"{s['controller_cpu_us_per_request_median']:.1f} us per request; "
          f"client CPU/request {s['client_cpu_us_per_request_plain']:.1f} us plain, "
          f"{s['client_cpu_us_per_request_captured']:.1f} us captured (loop thread "
          f"{s['client_thread_cpu_us_per_request_plain']:.1f} -> "
          f"{s['client_thread_cpu_us_per_request_captured']:.1f} us); "
          f"load {s['load_average']:.2f}")
    if "discarded_ratio_median" in s:
        print(f"agent injected, messages dropped by the controller: ratio median "
              f"{s['discarded_ratio_median']:.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="client time per run")
    parser.add_argument("--client", choices=sorted(CLIENTS), default="c",
                        help="the C client (default: measures the hooks) or Python's")
    parser.add_argument("--body", type=int, default=256, help="request body bytes")
    parser.add_argument("--flush-ms", type=int, default=50, help="agent flush interval")
    parser.add_argument("--breakdown", action="store_true",
                        help="a third run per round: the agent with its messages dropped on "
                        "arrival (the target's share of the overhead without the controller's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the captured run dirs under this folder")
    args = parser.parse_args(argv)
    config = AgentConfig(flush_interval_ms=args.flush_ms)  # product defaults otherwise
    with tempfile.TemporaryDirectory(prefix="hook-overhead-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        client = Client(args.client, build_keepalive(Path(tmp)))
        pki = make_pki(Path(tmp) / "pki")
        rounds = []
        for i in range(args.rounds):
            rounds.append(one_round(i, client, pki, work, args.seconds, args.body, config,
                                    args.keep is not None, args.breakdown))
            if not args.json:
                r = rounds[-1]
                print(f"  round {i}: {r.plain.rate:.0f} -> {r.captured.rate:.0f} req/s "
                      f"({r.ratio:.1%}), lost {r.lost} B", file=sys.stderr)
    s = summary(rounds, args)
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        print_table(rounds, s)
    return 0


if __name__ == "__main__":
    sys.exit(main())

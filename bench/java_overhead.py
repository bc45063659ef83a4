"""Java hook overhead: OkHttp requests/s on loopback, without Frida and with the Java hooks.

The client is Debian's OkHttp 3 (``/usr/share/java/okhttp.jar``) in the test driver JVM
(``harness/testing/java/egress/testapp/Driver.java``, command ``bench``): one OkHttpClient,
HTTP/1.1, one keep-alive connection, ``--warm`` untimed POSTs then ``--requests`` timed POSTs
of ``--body`` bytes each, timed inside the JVM with System.nanoTime (JVM start, Frida's
injection and the warm-up not counted). The server is the C keep-alive server
(``harness/testing/csrc/keepalive.c``, OpenSSL 3), never instrumented: it answers every
request and reports how many it received, their bytes and SHA-256.

The hooked JVM is captured through the product path, in this process: a
:class:`~harness.agent.session.CaptureSession` attached to the JVM (the agent's default
configuration: Java and native hooks) feeding a :class:`~harness.capture.recorder.Recorder`
that writes a run dir. Afterwards the run must hold one OkHttp request record per request
the server answered, each URL once, and a JSSE plaintext stream whose bytes and SHA-256 equal
the server's.

Each round runs both, alternating which goes first so drift in the shared machine's load
cancels out; the summary gives the median of the per-round ratios.

    PYTHONPATH=. python bench/java_overhead.py --rounds 6 --requests 3000 [--json]
    PYTHONPATH=. python bench/java_overhead.py --rounds 2 --profile     # where the time goes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import frida

from harness.agent.bundle import AgentBundle, build_agent
from harness.agent.channel import Channel
from harness.agent.session import AgentConfig, CaptureSession
from harness.capture.recorder import Recorder
from harness.capture.rundir import RunDir
from harness.protocol import JSON
from harness.testing.certs import PKIFiles, make_pki
from harness.testing.javafixtures import Fixtures, JavaDriver, compile_fixtures, make_truststore
from harness.testing.keepalive import KeepaliveServer, ServerResult, build_keepalive


@dataclass(frozen=True, slots=True)
class Setup:
    fixtures: Fixtures
    truststore: Path
    pki: PKIFiles
    server_exe: Path
    bundle: AgentBundle
    work: Path
    config: AgentConfig


@dataclass(frozen=True, slots=True)
class Measured:
    mode: str
    requests: int
    seconds: float
    server: ServerResult
    captured_requests: int = 0
    """OkHttp request records in the run (hooked mode), distinct URLs."""
    captured_bytes: int = 0
    captured_sha256: str = ""
    profile: dict[str, JSON] | None = None
    """With --profile: the agent's per-hook timing (hooks/src/profile.ts), name -> calls and
    total_us, over the warm-up and the timed requests."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True, slots=True)
class Round:
    index: int
    first: str
    plain: Measured
    hooked: Measured

    @property
    def ratio(self) -> float:
        return self.hooked.rate / self.plain.rate

    @property
    def all_captured(self) -> bool:
        h = self.hooked
        return (h.captured_requests == h.server.requests
                and h.captured_bytes == h.server.received
                and h.captured_sha256 == h.server.sha256)


def drive(setup: Setup, server: KeepaliveServer, requests: int, warm: int, body: int,
          driver: JavaDriver) -> float:
    url = f"https://127.0.0.1:{server.port}/bench"
    ns = int(driver.command(f"bench {url} {requests} {warm} {body}"))
    return ns / 1e9


def run_plain(setup: Setup, requests: int, warm: int, body: int) -> Measured:
    with KeepaliveServer(setup.server_exe, setup.pki, setup.work) as server, \
            JavaDriver(setup.fixtures.classpath(with_fixtures=False), setup.truststore,
                       timeout=600) as driver:
        seconds = drive(setup, server, requests, warm, body, driver)
        return Measured("plain", requests, seconds, server.result())


def run_hooked(setup: Setup, requests: int, warm: int, body: int, index: int) -> Measured:
    rd = RunDir.create(setup.work / "runs", f"round-{index}")
    channel = Channel()
    with KeepaliveServer(setup.server_exe, setup.pki, setup.work) as server, \
            JavaDriver(setup.fixtures.classpath(with_fixtures=False), setup.truststore,
                       timeout=600) as driver:
        with Recorder(rd, channel), \
                CaptureSession(frida.get_local_device(), setup.bundle, channel, setup.config,
                               follow_children=False) as session:
            session.attach(driver.pid)
            seconds = drive(setup, server, requests, warm, body, driver)
            session.flush()
            profile = session.status(driver.pid).get("profile") if setup.config.profile else None
            # the driver's main thread is blocked in a (native-)hooked read of its stdin:
            # once the hooks are reverted one more command lets it return, so unload does
            # not wait for it (harness/agent/session.py stop_pid)
            session.stop_pid(driver.pid, nudge=lambda: driver.command("ping"))
        result = server.result()
    count, size, sha = captured(rd, server.port)
    return Measured("hooked", requests, seconds, result, count, size, sha,
                    profile if isinstance(profile, dict) else None)


def captured(rd: RunDir, port: int) -> tuple[int, int, str]:
    """(distinct OkHttp request URLs, outgoing plaintext bytes and their SHA-256) in the run."""
    urls: set[str] = set()
    conns: set[str] = set()
    prefix = f"https://127.0.0.1:{port}/bench?i="
    with rd.reader() as reader:
        for ev in reader.events(kinds=["http"]):
            url = str(ev.fields.get("url"))
            if ev.fields.get("phase") == "request" and url.startswith(prefix):
                urls.add(url)
                if ev.conn:
                    conns.add(ev.conn)
        digest = hashlib.sha256()
        size = 0
        for ev in reader.events(kinds=["stream"]):
            if ev.conn in conns and ev.direction == "out" and ev.data:
                digest.update(ev.data)
                size += len(ev.data)
    return len(urls), size, digest.hexdigest()


def print_profile(rounds: list[Round], per_run: int) -> None:
    """The hooks' parts, summed over the rounds, per call and per request."""
    totals: dict[str, list[float]] = {}
    for r in rounds:
        for name, e in (r.hooked.profile or {}).items():
            if isinstance(e, dict):
                t = totals.setdefault(name, [0.0, 0.0])
                t[0] += float(e.get("calls", 0))  # type: ignore[arg-type]
                t[1] += float(e.get("total_us", 0))  # type: ignore[arg-type]
    requests = per_run * len(rounds)
    print(f"agent time by part ({requests} requests incl. warm-up; a hook's 'total' includes "
          "its parts):")
    for name, (calls, us) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:60s} {calls:8.0f} calls {us / max(calls, 1):8.1f} us/call "
              f"{us / requests:8.1f} us/request")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--requests", type=int, default=3000, help="timed requests per run")
    ap.add_argument("--warm", type=int, default=1000, help="untimed requests first (JIT)")
    ap.add_argument("--body", type=int, default=256, help="request body bytes")
    ap.add_argument("--exclude", action="append", default=[], metavar="HOOK_OR_GROUP",
                    help="leave a hook or group out (to see what costs what)")
    ap.add_argument("--no-native", action="store_true",
                    help="Java hooks only (the native TLS, socket and DNS hooks off)")
    ap.add_argument("--profile", action="store_true",
                    help="time the hooks' parts in the target and print them per request (the "
                         "timing itself costs ~2 us a part: the ratio is lower with it)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="java-bench-") as tmp:
        work = Path(tmp)
        pki = make_pki(work / "pki")
        setup = Setup(compile_fixtures(work / "fx"), make_truststore(pki.ca_cert, work),
                      pki, build_keepalive(work), build_agent(), work,
                      AgentConfig(native=not args.no_native, exclude=tuple(args.exclude),
                                  profile=args.profile))
        rounds: list[Round] = []
        for i in range(args.rounds):
            order = ("plain", "hooked") if i % 2 == 0 else ("hooked", "plain")
            got: dict[str, Measured] = {}
            for mode in order:
                got[mode] = (run_plain(setup, args.requests, args.warm, args.body)
                             if mode == "plain"
                             else run_hooked(setup, args.requests, args.warm, args.body, i))
            r = Round(i, order[0], got["plain"], got["hooked"])
            rounds.append(r)
            if not args.json:
                h = r.hooked
                print(f"round {i} ({r.first} first): plain {r.plain.rate:7.0f} req/s, "
                      f"hooked {h.rate:7.0f} req/s, ratio {r.ratio:.2f}; captured "
                      f"{h.captured_requests}/{h.server.requests} requests, "
                      f"{h.captured_bytes}/{h.server.received} bytes, sha256 "
                      f"{'equal' if h.captured_sha256 == h.server.sha256 else 'DIFFERENT'}",
                      flush=True)
    if args.profile and not args.json:
        print_profile(rounds, args.requests + args.warm)
    ratios = [r.ratio for r in rounds]
    summary = {
        "rounds": len(rounds), "requests": args.requests, "warm": args.warm, "body": args.body,
        "plain_rps_median": statistics.median(r.plain.rate for r in rounds),
        "hooked_rps_median": statistics.median(r.hooked.rate for r in rounds),
        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
        "ratio_max": max(ratios), "all_captured": all(r.all_captured for r in rounds),
    }
    if args.json:
        print(json.dumps({"summary": summary, "rounds": [
            {**asdict(r.plain), "rate": r.plain.rate} | {"round": r.index}
            for r in rounds] + [{**asdict(r.hooked), "rate": r.hooked.rate} | {"round": r.index}
                                for r in rounds]}, indent=2, default=str))
    else:
        print(f"median: plain {summary['plain_rps_median']:.0f} req/s, hooked "
              f"{summary['hooked_rps_median']:.0f} req/s, ratio {summary['ratio_median']:.2f} "
              f"(min {summary['ratio_min']:.2f}, max {summary['ratio_max']:.2f}); every request "
              f"captured: {summary['all_captured']}")
    return 0 if summary["all_captured"] else 1


if __name__ == "__main__":
    sys.exit(main())

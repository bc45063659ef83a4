"""Record cost: the agent's CPU per TLS record, without sockets or the kernel in the way.

``bench/csrc/tls_pingpong.c`` runs a TLS client and server in one thread over an OpenSSL BIO
pair: per iteration SSL_write of a request, SSL_read of it, SSL_write of a response, SSL_read
of it; four TLS records under the agent and no socket call. Each round runs it plain and
spawned under the agent (native hooks, the default configuration otherwise, messages decoded
by this process), alternating which goes first, and compares the thread's CPU per
iteration. The added CPU divided by four is what one hooked SSL call and its record cost on
the hot path (wrapper, connection lookup, timestamp, copy into the ring). The loopback
benchmark (``hook_overhead.py``) measures the same cost inside a ping-pong whose scheduling
noise is larger than it; this one isolates it. Every round must capture every record.

    PYTHONPATH=. python bench/record_cost.py --rounds 6 --iterations 300000

``--exclude GROUP`` (repeatable) leaves hook groups out, e.g. ``native.tls`` to see what the
injected agent costs with no TLS hook.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.agent.bundle import build_agent
from harness.protocol import NativeKind
from harness.testing.agent_run import run_under_agent
from harness.testing.certs import PKIFiles, make_pki
from harness.testing.keepalive import build_openssl_c

SOURCE = Path(__file__).resolve().parent / "csrc" / "tls_pingpong.c"
RECORDS_PER_ITERATION = 4


@dataclass(frozen=True, slots=True)
class Run:
    iterations: int
    thread_cpu: float
    wall: float
    records: int | None
    """TLS records captured (None for the plain run)."""

    @property
    def cpu_ns(self) -> float:
        return self.thread_cpu / self.iterations * 1e9


def one(exe: Path, pki: PKIFiles, work: Path, iterations: int, req: int, resp: int,
        config: dict[str, object] | None) -> Run:
    result = work / "result.json"
    result.unlink(missing_ok=True)
    argv = [str(exe), str(pki.cert), str(pki.key), str(iterations), str(req),
            str(resp), str(result)]
    records: int | None = None
    if config is None:
        subprocess.run(argv, check=True, timeout=600)
    else:
        run = run_under_agent(build_agent(), argv, config, timeout=600)
        if run.errors:
            sys.exit(f"agent errors: {run.errors[:3]}")
        records = sum(1 for n in run.native if n.kind in (NativeKind.TLS_OUT, NativeKind.TLS_IN))
    r = json.loads(result.read_text())
    return Run(int(r["iterations"]), float(r["thread_cpu"]), float(r["wall"]), records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=300_000)
    parser.add_argument("--request", type=int, default=256, help="request bytes")
    parser.add_argument("--response", type=int, default=40, help="response bytes")
    parser.add_argument("--exclude", action="append", default=[],
                        help="a hook group or hook to leave out (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    config: dict[str, object] = {"java": False, "exclude": args.exclude}
    plain: list[Run] = []
    hooked: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="record-cost-") as tmp:
        work = Path(tmp)
        exe = build_openssl_c(SOURCE, work / "tls_pingpong")
        pki = make_pki(work / "pki")
        for i in range(args.rounds):
            order = [None, config] if i % 2 == 0 else [config, None]
            for cfg in order:
                run = one(exe, pki, work, args.iterations, args.request, args.response, cfg)
                (plain if cfg is None else hooked).append(run)
            p, h = plain[-1], hooked[-1]
            expected = args.iterations * RECORDS_PER_ITERATION
            if "native.tls" not in args.exclude and h.records != expected:
                sys.exit(f"round {i}: captured {h.records} TLS records, expected {expected}")
            if not args.json:
                print(f"  round {i}: {p.cpu_ns:.0f} -> {h.cpu_ns:.0f} ns CPU an iteration "
                      f"(+{(h.cpu_ns - p.cpu_ns) / RECORDS_PER_ITERATION:.0f} ns a record)",
                      file=sys.stderr)
    added = [(h.cpu_ns - p.cpu_ns) / RECORDS_PER_ITERATION
             for p, h in zip(plain, hooked, strict=True)]
    summary = {
        "rounds": args.rounds, "iterations": args.iterations, "request": args.request,
        "response": args.response, "exclude": args.exclude,
        "plain_ns_per_iteration": statistics.median(r.cpu_ns for r in plain),
        "hooked_ns_per_iteration": statistics.median(r.cpu_ns for r in hooked),
        "added_ns_per_record_median": statistics.median(added),
        "added_ns_per_record_min": min(added), "added_ns_per_record_max": max(added),
        "records_captured": [r.records for r in hooked],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"plain {summary['plain_ns_per_iteration']:.0f} ns, hooked "
              f"{summary['hooked_ns_per_iteration']:.0f} ns CPU an iteration (medians); "
              f"added per record: median {summary['added_ns_per_record_median']:.0f} ns "
              f"(min {min(added):.0f}, max {max(added):.0f}); every round captured all "
              f"{args.iterations * RECORDS_PER_ITERATION} records" if "native.tls" not in
              args.exclude else f"added per record: median "
              f"{summary['added_ns_per_record_median']:.0f} ns")
    return 0


if __name__ == "__main__":
    sys.exit(main())

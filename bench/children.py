"""Children: how often ``--follow-children`` captures a forked child and its parent.

Each run spawns, through :class:`CaptureSession` with child gating on (what
``harness capture --follow-children`` uses), a Python parent that imports ``ssl`` and forks
at once (no exec); the child POSTs ``CANARY-child`` over TLS to a test-started server on
127.0.0.1 and exits, then the parent POSTs ``CANARY-parent``. A run counts as captured for a
process when that process's own decoded records (its pid) hold its canary in their outgoing
TLS bytes. Reported per run: what the server received, what was captured, and every detach
reason (docs/capture.md lists the failure modes these figures come from).

    PYTHONPATH=. python bench/children.py --runs 12 [--pause 0.0] [--json]

``--pause`` makes the parent sleep before it forks: the longer it waits after the agent
hooked ``libssl``, the less often the child is lost.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import tempfile
import textwrap
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import frida

from harness.agent.bundle import build_agent
from harness.agent.channel import Channel, DecodedBatch, Detached
from harness.agent.session import AgentConfig, CaptureSession
from harness.testing.certs import PKIFiles, make_pki
from harness.testing.tls_server import TLSServer

PARENT = textwrap.dedent("""
    import http.client, os, ssl, sys, time
    port, ca, pause = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    def post(tag):
        ctx = ssl.create_default_context(cafile=ca)
        c = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        c.request("POST", "/x", body=b"CANARY-" + tag, headers={"Connection": "close"})
        c.getresponse().read()
        c.close()
    time.sleep(pause)
    pid = os.fork()
    if pid == 0:
        post(b"child")
        os._exit(0)
    os.waitpid(pid, 0)
    post(b"parent")
""")


@dataclass
class Run:
    server_child: bool
    server_parent: bool
    captured_child: bool = False
    captured_parent: bool = False
    detaches: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        if self.captured_child and self.captured_parent:
            return "both captured"
        if self.captured_child:
            return "child only"
        if self.captured_parent:
            return "parent only"
        return "neither"


def one_run(script: Path, pki: PKIFiles, pause: float) -> Run:
    channel = Channel()
    with TLSServer(pki) as server:
        with CaptureSession(frida.get_local_device(), build_agent(), channel,
                            AgentConfig(java=False), follow_children=True) as session:
            parent = session.spawn([sys.executable, str(script), str(server.port),
                                    str(pki.ca_cert), str(pause)])
            session.wait(60)
        received = [bytes(c.received) for c in server.connections]
    run = Run(server_child=any(b"CANARY-child" in r for r in received),
              server_parent=any(b"CANARY-parent" in r for r in received))
    sent: dict[int, bytes] = {}
    while True:
        try:
            item = channel.items.get_nowait()
        except queue.Empty:
            break
        if isinstance(item, DecodedBatch):
            out = b"".join(r.data or b"" for r in item.rows if r.direction == "out")
            sent[item.pid] = sent.get(item.pid, b"") + out
        elif isinstance(item, Detached):
            run.detaches.append(f"{'parent' if item.pid == parent else 'child'}: "
                                f"{item.reason}")
    run.captured_parent = b"CANARY-parent" in sent.get(parent, b"")
    run.captured_child = any(b"CANARY-child" in data for pid, data in sent.items()
                             if pid != parent)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=12)
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds the parent sleeps after `import ssl` before it forks")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory(prefix="children-") as tmp:
        work = Path(tmp)
        script = work / "parent.py"
        script.write_text(PARENT)
        pki = make_pki(work / "pki")
        for i in range(args.runs):
            run = one_run(script, pki, args.pause)
            runs.append(run)
            if not args.json:
                print(f"  run {i}: {run.outcome}; server got child={run.server_child} "
                      f"parent={run.server_parent}; detaches: {run.detaches}",
                      file=sys.stderr)
    outcomes = Counter(r.outcome for r in runs)
    if args.json:
        print(json.dumps({"runs": [asdict(r) | {"outcome": r.outcome} for r in runs],
                          "outcomes": dict(outcomes), "pause": args.pause}, indent=2))
    else:
        print(f"{args.runs} runs, pause {args.pause} s: " + ", ".join(
            f"{n} {o}" for o, n in outcomes.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Is the capture complete? The lab servers' own logs, checked against what the hooks saw.

The lab servers keep every request they receive. That log is never the capture (findings
come only from what the agent recorded); it is the yardstick: each request the servers
received must be among the requests the capture parsed, by host, method and target. A
request the servers got and the capture lacks means the hooks missed traffic, and the
verdicts refuse a PASS on such a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from urllib.parse import urlsplit

from harness.capture.rundir import RunDir
from harness.lab.servers import LabRequest
from harness.parse.message import MessageKind
from harness.parse.store import MessageStore
from harness.protocol import JSON

COMPLETENESS = "completeness"
"""Key in run.json's extra."""

Key = tuple[str, str, str]


def _target(url: str | None) -> str:
    if not url:
        return ""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def captured_requests(run: RunDir) -> Counter[Key]:
    """(host, method, target) of the requests the capture parsed, each exchange once (a
    Java HTTP-stack record linked to its TLS twin is the same request)."""
    seen: Counter[Key] = Counter()
    with MessageStore.open(run) as store:
        for m in store.messages(with_body=False):
            if m.kind != MessageKind.REQUEST or m.direction != "out":
                continue
            if m.meta.get("stack") and m.links:
                continue
            seen[((m.host or "").lower(), (m.method or "").upper(), _target(m.url))] += 1
    return seen


def completeness(run: RunDir, received: Iterable[LabRequest]) -> dict[str, JSON]:
    served: Counter[Key] = Counter((r.host.lower(), r.method.upper(), r.path) for r in received)
    missing = served - captured_requests(run)
    hosts: dict[str, JSON] = {}
    for host in sorted({k[0] for k in served}):
        lost = sorted(k for k in missing.elements() if k[0] == host)
        hosts[host] = {"received": sum(n for k, n in served.items() if k[0] == host),
                       "missing": len(lost),
                       "examples": [f"{m} {h}{t}" for h, m, t in lost[:5]]}
    return {"source": "lab servers' request logs", "missing": sum(missing.values()),
            "hosts": hosts}

"""Is the capture complete? The lab servers' own logs, checked against what the hooks saw.

The lab servers keep every request they receive. That log is never the capture (findings
come only from what the agent recorded); it is the yardstick: each request the servers
received must be among the requests the capture parsed, by host, method and target. A
request the servers got and the capture lacks means the hooks missed traffic, and the
verdicts refuse a PASS on such a run.

The positive controls are checked the same way from both sides: every canary the journey
planted in a page load (its URL, its search word, its download) must be in the canary
site's log *and* among the capture's control findings. A control the site saw and the
capture did not is a blind capture; one neither saw means the step never reached the app.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from urllib.parse import unquote, urlsplit

from harness.capture.rundir import RunDir
from harness.detect.needles import NEEDLES_JSON, load_needles_file
from harness.lab.servers import LabRequest
from harness.parse.message import MessageKind
from harness.parse.storeread import MessageStore
from harness.protocol import JSON

COMPLETENESS = "completeness"
"""Key in run.json's extra."""

Key = tuple[str, str, str]


def _target(url: str | None) -> str:
    if not url:
        return ""
    if url.startswith("/"):
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # a URL urlsplit refuses ("http://[::1"): compared as written
        return url
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


def positive_controls(run: RunDir, received: Sequence[LabRequest], planted: Sequence[str],
                      site: str) -> dict[str, JSON]:
    """For each planted canary: loads of it in the site's log, control findings of it in the
    capture (``findings.json``, which must exist: run the analysis first)."""
    values = {n.name: n.value for n in load_needles_file(run.file(NEEDLES_JSON))}
    findings = json.loads(run.file("findings.json").read_text(encoding="utf-8"))
    captured: Counter[str] = Counter(
        str(f.get("needle")) for f in findings if isinstance(f, dict) and f.get("control"))
    paths = [unquote(r.path) for r in received if r.host.lower() == site]
    out: dict[str, JSON] = {}
    for name in dict.fromkeys(planted):
        value = values.get(name)
        site_loads = sum(1 for p in paths if value and value in p)
        out[name] = {"site": site_loads, "capture": captured[name],
                     "seen_by_both": site_loads > 0 and captured[name] > 0}
    return out


def completeness(run: RunDir, received: Iterable[LabRequest], planted: Sequence[str] = (),
                 site: str = "canary.lab.test") -> dict[str, JSON]:
    """The servers' logs against the capture; with ``planted``, the positive controls too."""
    received = list(received)
    served: Counter[Key] = Counter((r.host.lower(), r.method.upper(), r.path) for r in received)
    missing = served - captured_requests(run)
    hosts: dict[str, JSON] = {}
    for host in sorted({k[0] for k in served}):
        lost = sorted(k for k in missing.elements() if k[0] == host)
        hosts[host] = {"received": sum(n for k, n in served.items() if k[0] == host),
                       "missing": len(lost),
                       "examples": [f"{m} {h}{t}" for h, m, t in lost[:5]]}
    found: dict[str, JSON] = {"source": "lab servers' request logs",
                              "missing": sum(missing.values()), "hosts": hosts}
    if planted:
        controls = positive_controls(run, received, planted, site)
        found["positive_controls"] = controls
        found["controls_missing"] = [name for name, c in controls.items()
                                     if isinstance(c, dict) and not c["seen_by_both"]]
    return found

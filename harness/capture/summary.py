"""A short account of a capture for people: connections, bytes, hosts, needles seen."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from harness.capture.rundir import RunDir, blinding_detach


@dataclass
class Summary:
    connections: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    hosts: Counter[str] = field(default_factory=Counter)
    needles_seen: dict[str, int] = field(default_factory=dict)
    hooks_installed: int = 0
    hooks_skipped: int = 0
    hooks_failed: int = 0
    sequence_gaps: int = 0
    protocol_errors: int = 0
    blind: list[str] = field(default_factory=list)
    """Processes the capture lost or never saw (their detach reasons), one line each."""

    def lines(self) -> list[str]:
        out = [
            f"connections: {self.connections}   bytes out: {self.bytes_out}   "
            f"bytes in: {self.bytes_in}",
            f"hooks: {self.hooks_installed} installed, {self.hooks_skipped} skipped, "
            f"{self.hooks_failed} failed   sequence gaps: {self.sequence_gaps}   "
            f"protocol errors: {self.protocol_errors}",
        ]
        if self.hosts:
            out.append("hosts: " + ", ".join(f"{h} ({n})" for h, n in self.hosts.most_common(10)))
        out += [f"not captured: {b}" for b in self.blind]
        for name, n in sorted(self.needles_seen.items()):
            out.append(f"needle {name}: {'seen in ' + str(n) + ' event(s)' if n else 'not seen'}")
        return out


def summarize(run: RunDir) -> Summary:
    """Raw-value needle search only (the detector in ``harness analyze`` decodes nested)."""
    info = run.load_info()
    s = Summary(
        hooks_installed=info.health.hooks_installed, hooks_skipped=info.health.hooks_skipped,
        hooks_failed=info.health.hooks_failed, sequence_gaps=info.health.sequence_gaps,
        protocol_errors=info.health.protocol_errors,
    )
    s.blind = [f"pid {d.get('pid')}: {d.get('reason')}" for d in info.health.detached
               if blinding_detach(d.get("reason"))]
    needles: dict[str, bytes] = {}
    path = run.file("needles.json")
    if path.is_file():
        for n in json.loads(path.read_text(encoding="utf-8")):
            needles[str(n["name"])] = str(n["value"]).encode()
    s.needles_seen = dict.fromkeys(needles, 0)
    with run.reader() as reader:
        conns = reader.connections()
        s.connections = len(conns)
        for c in conns.values():
            host = c.sni or (f"{c.peer_ip}:{c.peer_port}" if c.peer_ip else None)
            if host:
                s.hosts[host] += 1
        for ev in reader.events():
            data = ev.data or b""
            if ev.kind == "stream":
                if ev.direction == "out":
                    s.bytes_out += ev.orig_len or len(data)
                else:
                    s.bytes_in += ev.orig_len or len(data)
            for name, value in needles.items():
                if value and value in data:
                    s.needles_seen[name] += 1
    return s

"""Per-connection byte streams: the ``stream`` events of one connection, put back in order
as one buffer per direction, remembering which event every byte came from.

Hooks record what each read/write call returned, in call order, so concatenating the
events of a direction in ``seq`` order restores the stream. A truncated event (its body cut
to the agent's size cap) leaves a hole: the bytes are not invented, the hole is remembered
and every message built across it carries a note.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

from harness.capture.rundir import Connection, Event


@dataclass(frozen=True, slots=True)
class Chunk:
    offset: int
    """Where the event's bytes start in the direction's buffer."""
    length: int
    seq: int
    t: float
    missing: int = 0
    """Bytes the hook saw but did not record (truncated event), lost after this chunk."""


@dataclass(slots=True)
class Flow:
    """One direction of one connection: its bytes and where each came from."""

    direction: str
    data: bytes = b""
    chunks: list[Chunk] = field(default_factory=list)
    _starts: list[int] = field(default_factory=list)
    lossy: bool = False
    """Some event of this flow was truncated by the agent."""

    def __len__(self) -> int:
        return len(self.data)

    def _index(self, offset: int) -> int:
        i = bisect.bisect_right(self._starts, offset) - 1
        return max(0, min(i, len(self.chunks) - 1))

    def t_at(self, offset: int) -> float:
        if not self.chunks:
            return 0.0
        return self.chunks[self._index(offset)].t

    def seq_at(self, offset: int) -> int:
        if not self.chunks:
            return 0
        return self.chunks[self._index(offset)].seq

    def seqs(self, start: int, end: int) -> tuple[int, ...]:
        """Seqs of the events holding bytes [start, end)."""
        if not self.chunks:
            return ()
        a = self._index(start)
        b = self._index(max(start, end - 1))
        return tuple(c.seq for c in self.chunks[a : b + 1])

    def span(self, start: int, end: int) -> tuple[float, int, tuple[int, ...], int]:
        """For bytes [start, end): time and seq of the first byte's event, the seqs of all
        events holding them, and bytes lost to truncation inside (one lookup for all)."""
        if not self.chunks:
            return 0.0, 0, (), 0
        a = self._index(start)
        b = a if end - 1 <= start else self._index(end - 1)
        chunks = self.chunks[a : b + 1]
        first = chunks[0]
        lost = sum(c.missing for c in chunks if c.missing and c.offset + c.length <= end) \
            if self.lossy else 0
        return first.t, first.seq, tuple(c.seq for c in chunks), lost

    def missing_in(self, start: int, end: int) -> int:
        """Bytes lost to truncation inside [start, end]."""
        if not self.chunks or not self.lossy:
            return 0
        a = self._index(start)
        b = self._index(max(start, end - 1))
        return sum(c.missing for c in self.chunks[a : b + 1]
                   if c.missing and c.offset + c.length <= end)

    def holes_before(self, offset: int) -> bool:
        return any(c.missing for c in self.chunks[: self._index(offset)])


def assemble(events: Iterable[Event]) -> dict[str, Flow]:
    """Build the ``out`` and ``in`` flows of one connection from its stream events."""
    parts: dict[str, list[bytes]] = {"out": [], "in": []}
    flows = {"out": Flow("out"), "in": Flow("in")}
    sizes = {"out": 0, "in": 0}
    for ev in events:
        d = ev.direction if ev.direction in parts else "out"
        data = ev.data or b""
        missing = max(0, (ev.orig_len or 0) - len(data)) if ev.truncated else 0
        flow = flows[d]
        flow.lossy = flow.lossy or missing > 0
        flow.chunks.append(Chunk(sizes[d], len(data), ev.seq, ev.t, missing))
        flow._starts.append(sizes[d])
        parts[d].append(data)
        sizes[d] += len(data)
    for d, flow in flows.items():
        flow.data = b"".join(parts[d])
        parts[d].clear()
    return flows


@dataclass(frozen=True, slots=True)
class ConnFacts:
    """What the capture knows about a connection, copied onto each of its messages."""

    conn: str | None
    source: str
    """Capture layer, e.g. ``native.tls`` (the hook name's first two parts)."""
    layer: str
    ip: str | None = None
    port: int | None = None
    sni: str | None = None
    tls_version: str | None = None
    cipher: str | None = None
    alpn: str | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.layer == "tls" else "http"

    @classmethod
    def of(cls, conn: str | None, first: Event, c: Connection | None) -> ConnFacts:
        layer = first.fields.get("layer")
        if not isinstance(layer, str):
            layer = (c.layer if c and c.layer else None) or _layer_of_id(conn) or "tcp"
        source = source_of(first.hook)
        return cls(
            conn=conn, source=source if "." in source else f"{source}.{layer}", layer=layer,
            ip=c.peer_ip if c else None, port=c.peer_port if c else None,
            sni=c.sni if c else None, tls_version=c.tls_version if c else None,
            cipher=c.cipher if c else None, alpn=c.alpn if c else None,
        )


def _layer_of_id(conn: str | None) -> str | None:
    parts = (conn or "").split(":")
    return parts[1] if len(parts) >= 3 and parts[1] in ("tls", "tcp", "udp") else None


def source_of(hook: str) -> str:
    """``native.tls.SSL_write_ex`` → ``native.tls``; ``native#3`` (a hook whose name the
    recorder never learnt) → ``native``."""
    return ".".join(hook.split("#")[0].split(".")[:2])

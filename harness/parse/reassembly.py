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
from typing import NamedTuple

from harness.capture.rundir import Connection, Event

_after = bisect.bisect_right


class Chunk(NamedTuple):
    """One event's bytes in a flow (a NamedTuple: one is made per stream event)."""

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
        """The chunk holding ``offset``, clamped to the chunks there are."""
        i = _after(self._starts, offset) - 1
        last = len(self.chunks) - 1
        if i > last:
            i = last
        return i if i > 0 else 0

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
        b = self._index(end - 1) if end - 1 > start else a
        if a == b:
            return (self.chunks[a].seq,)
        return tuple([c.seq for c in self.chunks[a : b + 1]])

    def span(self, start: int, end: int) -> tuple[float, int, tuple[int, ...], int]:
        """For bytes [start, end): time and seq of the first byte's event, the seqs of all
        events holding them, and bytes lost to truncation inside (one lookup for all)."""
        if not self.chunks:
            return 0.0, 0, (), 0
        a = self._index(start)
        b = a if end - 1 <= start else self._index(end - 1)
        if a == b and not self.lossy:
            first = self.chunks[a]
            return first.t, first.seq, (first.seq,), 0
        chunks = self.chunks[a : b + 1]
        first = chunks[0]
        lost = sum(c.missing for c in chunks if c.missing and c.offset + c.length <= end) \
            if self.lossy else 0
        return first.t, first.seq, tuple([c.seq for c in chunks]), lost

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
    out, inn = Flow("out"), Flow("in")
    out_parts: list[bytes] = []
    in_parts: list[bytes] = []
    out_size = in_size = 0
    for ev in events:
        data = ev.data or b""
        n = len(data)
        missing = max(0, (ev.orig_len or 0) - n) if ev.truncated else 0
        if ev.direction == "in":
            inn.lossy = inn.lossy or missing > 0
            inn.chunks.append(Chunk(in_size, n, ev.seq, ev.t, missing))
            inn._starts.append(in_size)
            in_parts.append(data)
            in_size += n
        else:  # "out", and any other direction (kept as before: the app's side)
            out.lossy = out.lossy or missing > 0
            out.chunks.append(Chunk(out_size, n, ev.seq, ev.t, missing))
            out._starts.append(out_size)
            out_parts.append(data)
            out_size += n
    out.data = b"".join(out_parts)
    inn.data = b"".join(in_parts)
    return {"out": out, "in": inn}


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

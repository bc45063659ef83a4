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
from dataclasses import dataclass
from typing import NamedTuple

from harness.capture.rundir import Connection, Event
from harness.capture.streamrows import StreamRows

_after = bisect.bisect_right

Coded = tuple[bytes, bytes, str, int]
"""A body decoded from a flow's bytes (:attr:`Flow.coded`): the body, its bytes as sent (no
longer chunked), the codings undone (``meta["content_encoding"]``'s text) and the output
budget they were undone within."""


class Chunk(NamedTuple):
    """One event's bytes in a flow, as :attr:`Flow.chunks` lists them."""

    offset: int
    """Where the event's bytes start in the direction's buffer."""
    length: int
    seq: int
    t: float
    missing: int = 0
    """Bytes the hook saw but did not record (truncated event), lost after this chunk."""


class Flow:
    """One direction of one connection: its bytes and where each came from.

    Kept as columns (the start, seq and time of each event's bytes in parallel lists) rather
    than one :class:`Chunk` per event: they are the lists a :class:`StreamRows` side holds
    (joined by the capture reader, in C when it is built), taken as they are, and the
    lookups the parsers make for every message (:meth:`seqs`, :meth:`span`) slice a list of
    seqs. :attr:`chunks` makes the Chunk list when asked (tests, lossy lookups)."""

    __slots__ = (
        "_chunks",
        "_missing",
        "_seqs",
        "_starts",
        "_ts",
        "coded",
        "data",
        "direction",
        "lossy",
    )

    def __init__(self, direction: str, data: bytes = b"", chunks: list[Chunk] | None = None,
                 _starts: list[int] | None = None, lossy: bool = False) -> None:
        self.direction = direction
        self.data = data
        self.lossy = lossy
        chunks = [] if chunks is None else chunks
        self._chunks: list[Chunk] | None = chunks
        self._starts: list[int] = [] if _starts is None else _starts
        self._seqs: list[int] = [c.seq for c in chunks]
        self._ts: list[float] = [c.t for c in chunks]
        self._missing: list[int] | None = None
        self.coded: dict[int, Coded | None] = {}
        """Bodies the parsers decoded from this flow's bytes that decode again to the same
        (:func:`harness.parse.bodyref.keep`), by ``id`` of the body: the store keeps such a
        body as a reference to its bytes as sent and the codings to undo again."""

    @classmethod
    def _columns(cls, direction: str, data: bytes, starts: list[int], seqs: list[int],
                 ts: list[float], missing: list[int] | None) -> Flow:
        """A flow from its columns (``missing`` None: nothing was lost)."""
        f = cls.__new__(cls)
        f.direction, f.data, f.lossy = direction, data, missing is not None
        f._starts, f._seqs, f._ts, f._missing, f._chunks = starts, seqs, ts, missing, None
        f.coded = {}
        return f

    @property
    def chunks(self) -> list[Chunk]:
        """One Chunk per event, in seq order (made on first use)."""
        if self._chunks is None:
            starts, missing = self._starts, self._missing
            ends = [*starts[1:], len(self.data)] if starts else []
            self._chunks = [Chunk(s, e - s, q, t, missing[i] if missing else 0)
                            for i, (s, e, q, t) in enumerate(zip(starts, ends, self._seqs,
                                                                 self._ts, strict=True))]
        return self._chunks

    def columns(self) -> tuple[list[int], list[int]]:
        """Each chunk's offset and seq, as two lists (what :attr:`chunks` would give in its
        items 0 and 2, without making the Chunks): for the C HTTP/2 reader."""
        if self._chunks is not None:
            return [c[0] for c in self._chunks], [c[2] for c in self._chunks]
        return self._starts, self._seqs

    def __len__(self) -> int:
        return len(self.data)

    def _index(self, offset: int) -> int:
        """The chunk holding ``offset``, clamped to the chunks there are."""
        i = _after(self._starts, offset) - 1
        last = len(self._seqs) - 1
        if i > last:
            i = last
        return i if i > 0 else 0

    def t_at(self, offset: int) -> float:
        if not self._seqs:
            return 0.0
        return self._ts[self._index(offset)]

    def seq_at(self, offset: int) -> int:
        if not self._seqs:
            return 0
        return self._seqs[self._index(offset)]

    def _bounds(self, start: int, end: int) -> tuple[int, int]:
        """The first and last chunk holding bytes [start, end) (one chunk for an empty range)."""
        a = self._index(start)
        return a, (a if end - 1 <= start else self._index(end - 1))

    def seqs(self, start: int, end: int) -> tuple[int, ...]:
        """Seqs of the events holding bytes [start, end)."""
        if not self._seqs:
            return ()
        a, b = self._bounds(start, end)
        return tuple(self._seqs[a : b + 1])

    def span(self, start: int, end: int) -> tuple[float, int, tuple[int, ...], int]:
        """For bytes [start, end): time and seq of the first byte's event, the seqs of all
        events holding them, and bytes lost to truncation inside."""
        seqs = self._seqs
        if not seqs:
            return 0.0, 0, (), 0
        a, b = self._bounds(start, end)
        return self._ts[a], seqs[a], tuple(seqs[a : b + 1]), self.missing_in(start, end)

    def head(self, start: int, end: int) -> tuple[float, int, int]:
        """:meth:`span` without the seqs: for a caller that knows which events to cite."""
        if not self._seqs:
            return 0.0, 0, 0
        a = self._index(start)
        return self._ts[a], self._seqs[a], self.missing_in(start, end)

    def missing_in(self, start: int, end: int) -> int:
        """Bytes lost to truncation inside [start, end]."""
        if not self._seqs or not self.lossy:
            return 0
        a, b = self._bounds(start, end)
        return sum(c.missing for c in self.chunks[a : b + 1]
                   if c.missing and c.offset + c.length <= end)

    def holes_before(self, offset: int) -> bool:
        return any(c.missing for c in self.chunks[: self._index(offset)])


def assemble(events: Iterable[Event]) -> dict[str, Flow]:
    """Build the ``out`` and ``in`` flows of one connection from its stream events."""
    return assemble_rows(StreamRows.of_events(events))


def assemble_rows(rows: StreamRows) -> dict[str, Flow]:
    """The ``out`` and ``in`` flows of one connection from its stream events, already joined
    per direction (:class:`StreamRows`; any direction but ``in`` is the app's side, ``out``)."""
    return {"out": Flow._columns("out", *rows.out), "in": Flow._columns("in", *rows.inward)}


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

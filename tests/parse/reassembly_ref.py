"""The reassembly code as it was before its flows became columns (main at 4d0eaad), kept
as the reference that tests/parse/test_reassembly.py compares the fast path with."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from harness.capture.rundir import Event

_after = bisect.bisect_right


class RefChunk(NamedTuple):
    """One event's bytes in a flow (a NamedTuple: one is made per stream event)."""

    offset: int
    """Where the event's bytes start in the direction's buffer."""
    length: int
    seq: int
    t: float
    missing: int = 0
    """Bytes the hook saw but did not record (truncated event), lost after this chunk."""


@dataclass(slots=True)
class RefFlow:
    """One direction of one connection: its bytes and where each came from."""

    direction: str
    data: bytes = b""
    chunks: list[RefChunk] = field(default_factory=list)
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


def ref_assemble(events: Iterable[Event]) -> dict[str, RefFlow]:
    """Build the ``out`` and ``in`` flows of one connection from its stream events."""
    out, inn = RefFlow("out"), RefFlow("in")
    out_parts: list[bytes] = []
    in_parts: list[bytes] = []
    out_size = in_size = 0
    for ev in events:
        data = ev.data or b""
        n = len(data)
        missing = max(0, (ev.orig_len or 0) - n) if ev.truncated else 0
        if ev.direction == "in":
            inn.lossy = inn.lossy or missing > 0
            inn.chunks.append(RefChunk(in_size, n, ev.seq, ev.t, missing))
            inn._starts.append(in_size)
            in_parts.append(data)
            in_size += n
        else:  # "out", and any other direction (kept as before: the app's side)
            out.lossy = out.lossy or missing > 0
            out.chunks.append(RefChunk(out_size, n, ev.seq, ev.t, missing))
            out._starts.append(out_size)
            out_parts.append(data)
            out_size += n
    out.data = b"".join(out_parts)
    inn.data = b"".join(in_parts)
    return {"out": out, "in": inn}

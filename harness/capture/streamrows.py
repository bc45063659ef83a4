"""One connection's events as :meth:`CaptureReader.stream_rows` reads them for reassembly:
its ``stream`` events joined per direction (what putting the byte streams back together needs
of each), the first of them whole, and its events of other kinds.

A connection's stream events are nearly every row of a capture, and reassembly only joins
each direction's bytes and keeps where each event's bytes start, its seq and time: the C
reader (``_rows.Database.stream``) does that as it steps through the rows, so Python touches
a connection, not its rows. :meth:`StreamRows.of_events` makes the same from the events
themselves: the reader falls back to it when the rows cannot be read that way (and an
unbuilt checkout always does), and it is what the C reader is checked against
(tests/capture/test_streamrows.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import accumulate
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.capture.dbformat import Connection, Event

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON

_new = tuple.__new__

_SCALARS = frozenset({str, int, float, bool, type(None)})
"""JSON values that cannot be changed in place (a fields object holding only these can be
shared by copying it shallowly)."""


class FieldsOnce:
    """A reading of fields texts (None: not a JSON object) that reads each text once, for
    :meth:`StreamRows.of_stream` over every connection of a capture: their rows carry the
    same few texts (each of the 200 MB bench capture's 3,062 connections says
    ``{"layer":"tls"}``), and reading one again for each connection (to check its texts,
    then for its first row) was ~1% of an analysis. An object holding scalars alone is
    kept (as ``CaptureReader.events`` keeps them within a query), and each call gets its
    own shallow copy of it."""

    def __init__(self, read: Callable[[str], dict[str, JSON] | None]) -> None:
        self._read = read
        self._kept: dict[str, dict[str, JSON]] = {}

    def __call__(self, text: str) -> dict[str, JSON] | None:
        value = self._kept.get(text)
        if value is not None:
            return value.copy()
        value = self._read(text)
        if value is not None and len(self._kept) < 64 and len(text) <= 256 and all(
                type(v) in _SCALARS for v in value.values()):
            self._kept[text] = value.copy()
        return value


class Side(NamedTuple):
    """One direction's stream events, in seq order, joined: ``in`` is the peer's side, any
    other direction (``out``, none, or one the recorder never writes) the app's."""

    data: bytes
    """Every event's bytes, one after the other (missing data: none)."""
    starts: list[int]
    """Where each event's bytes start in :attr:`data`."""
    seqs: list[int]
    ts: list[float]
    missing: list[int] | None
    """Each event's bytes lost to truncation (``orig_len`` beyond the bytes recorded, for a
    truncated event); None when no event lost any."""

    @classmethod
    def of_events(cls, events: list[Event]) -> Side:
        parts = [e.data or b"" for e in events]
        sizes = list(map(len, parts))
        starts = list(accumulate(sizes, initial=0))
        starts.pop()  # the total: where a next event would start
        missing = [max(0, (e.orig_len or 0) - n) if e.truncated else 0
                   for e, n in zip(events, sizes, strict=True)]
        return cls(b"".join(parts), starts, [e.seq for e in events], [e.t for e in events],
                   missing if any(missing) else None)


class StreamRows(NamedTuple):
    """The events of one connection, in seq order."""

    first: Event | None
    """The first stream event (what the connection's facts are read from); None: none."""
    out: Side
    inward: Side
    others: list[Event]
    """The connection's events of other kinds (``conn``: a Java TLS socket's peer host)."""

    @classmethod
    def of_events(cls, events: Iterable[Event]) -> StreamRows:
        evs = list(events)
        stream = [e for e in evs if e.kind == "stream"]
        return cls(stream[0] if stream else None,
                   Side.of_events([e for e in stream if e.direction != "in"]),
                   Side.of_events([e for e in stream if e.direction == "in"]),
                   [e for e in evs if e.kind != "stream"])

    @classmethod
    def of_stream(cls, got: tuple[list[tuple[Any, ...]], tuple[Any, ...], tuple[Any, ...],
                                  set[str]],
                  conn: str, c: Connection | None,
                  fields_of: Callable[[str], dict[str, JSON] | None]) -> StreamRows | None:
        """From what ``_rows.Database.stream`` read of ``capturedb._STREAM_SQL`` (each value
        already of its type), with ``conn``'s :class:`Connection` ``c`` and the reader's
        reading of a fields text (None: not a JSON object); None when a row's fields are not
        a JSON object (a row :meth:`CaptureReader.events` skips and counts: the reader leaves
        it that)."""
        rows, out, inward, texts = got
        if not all(fields_of(text) is not None for text in texts):
            return None
        events = [_new(Event, (seq, t, kind, pid, tid, conn, direction, hook, data, orig_len,
                               bool(trunc), fields_of(fields), c))
                  for (seq, t, kind, direction, data, orig_len, trunc, fields, pid, tid, hook)
                  in rows]
        first = next((e for e in events if e.kind == "stream"), None)
        return cls(first, Side._make(out), Side._make(inward),
                   [e for e in events if e is not first])

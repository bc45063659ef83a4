"""One connection's events as :meth:`CaptureReader.stream_rows` reads them for reassembly:
its ``stream`` events as columns (what putting the byte streams back together needs of
each), the first of them whole, and its events of other kinds.

A connection's stream events are nearly every row of a capture, and reassembly takes each
of their columns whole: read as columns (``_rows.Database.columns``), no :class:`Event` is
made per row. :meth:`StreamRows.of_events` makes the same from the events themselves, which
is what the reader falls back to when the columns cannot be read that way, and what the
columns are checked against (tests/capture/test_streamrows.py)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from itertools import compress, repeat
from typing import Any, NamedTuple

from harness.capture.dbformat import Connection, Event
from harness.protocol import JSON

_new = tuple.__new__


class StreamRows(NamedTuple):
    """The events of one connection, in seq order."""

    first: Event | None
    """The first stream event (what the connection's facts are read from); None: none."""
    seqs: list[int]
    ts: list[float]
    directions: list[str | None]
    data: list[bytes | None]
    orig_lens: list[int | None]
    truncated: list[bool]
    others: list[Event]
    """The connection's events of other kinds (``conn``: a Java TLS socket's peer host)."""

    @classmethod
    def of_events(cls, events: Iterable[Event]) -> StreamRows:
        evs = list(events)
        stream = [e for e in evs if e.kind == "stream"]
        return cls(stream[0] if stream else None, [e.seq for e in stream],
                   [e.t for e in stream], [e.direction for e in stream],
                   [e.data for e in stream], [e.orig_len for e in stream],
                   [e.truncated for e in stream], [e for e in evs if e.kind != "stream"])

    @classmethod
    def of_columns(cls, cols: tuple[list[Any], ...], conn: str, c: Connection | None,
                   fields_of: Callable[[str], dict[str, JSON] | None]) -> StreamRows | None:
        """From the columns of ``capturedb._STREAM_SQL`` (each value already of its type),
        with ``conn``'s :class:`Connection` ``c`` and the reader's reading of a fields text
        (None: not a JSON object); None when a row's fields are not a JSON object (a row
        :meth:`CaptureReader.events` skips and counts: the reader leaves it that)."""
        seq, t, kind, pid, tid, direction, hook, data, orig_len, trunc, fields = cols
        # a connection's fields repeat, and the C reader gives a repeated text as one str
        if not all(fields_of(text) is not None for text in set(fields)):
            return None

        def event(i: int) -> Event:  # row i whole, as CaptureReader.events makes it
            return _new(Event, (seq[i], t[i], kind[i], pid[i], tid[i], conn, direction[i],
                                hook[i], data[i], orig_len[i], bool(trunc[i]),
                                fields_of(fields[i]), c))

        streams = kind.count("stream")
        first = event(kind.index("stream")) if streams else None
        others = [] if streams == len(kind) else [
            event(i) for i in range(len(kind)) if kind[i] != "stream"]
        if others:  # the stream rows alone
            keep = list(map(operator.eq, kind, repeat("stream")))
            seq, t, kind, pid, tid, direction, hook, data, orig_len, trunc, fields = (
                list(compress(col, keep)) for col in cols)
        return cls(first, seq, t, direction, data, orig_len, list(map(bool, trunc)), others)

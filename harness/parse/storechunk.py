"""A chunk of messages (analysis.sqlite's format 7, storeformat.py) as the reference writer
(:class:`harness.parse.store.StoreWriter` without ``_store``) makes it, and a message read
back from one: what storerows.c does in C, which tests/parse/test_store_c.py compares with
this."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from harness.parse.message import Message
from harness.parse.rowcodec import ENCODER, chunked, loads
from harness.parse.storeformat import CHUNK_BYTES

T = struct.Struct("<d")
"""A chunk's ``ts``: each message's t, 8 bytes little-endian."""
_INT64 = -2**63
_TEXTS = frozenset({str, type(None)})
_INTS = frozenset({int, type(None)})


def _utf8(text: str) -> bool:
    """Whether text has UTF-8 (no surrogate), as SQLite is given it."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def fits(row: tuple[Any, ...], facts: tuple[object, ...], body: object) -> bool:
    """Whether a message row (the ``messages`` table's columns) may go in a chunk: its values
    what JSON gives back as SQLite's column types would (ints within 64 bits, not bools;
    strs with UTF-8; a finite t other than 0, which a REAL gives back as 0.0), and what
    ``StoreWriter.message`` takes as they are (its draft's ``body`` bytes, its facts of their
    columns' types), as the C writer's own checks say."""
    (_key, first_seq, kind, t, direction, _nfacts, phase, host, method, url, status,
     _headers, stored, body_len_wire, _events, req, sdk, _frames, _meta, _notes, ref) = row
    texts = (kind, direction, phase, host, method, url, sdk)
    return (type(t) is float and t != 0 and math.isfinite(t) and type(direction) is str
            and type(body) is bytes
            and (type(stored) is bytes if ref is None else type(stored) is int)
            and type(first_seq) is int
            and all(type(v) is int and _INT64 <= v < -_INT64
                    for v in (first_seq, status, body_len_wire, req) if v is not None)
            and all(type(v) is str and _utf8(v) for v in texts if v is not None)
            and {type(facts[4])} <= _INTS
            and {type(v) for v in (*facts[:4], *facts[5:])} <= _TEXTS)


def held(v: list[Any]) -> int:
    """How many bytes of its chunk's ``bodies`` a message's values ``v`` take: its body's, or
    its reference's where the body is one (``v[18]``, the reference's length, then not
    null)."""
    return int(v[10] if v[18] is None else v[18])


class Chunks:
    """The chunks a writer makes of the rows that fit, ``limit`` messages at most each (or
    CHUNK_BYTES of bodies): ``done`` holds those made, (key, rows, bodies, ts)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.first = 0
        self.rows: list[str] = []
        self.bodies: list[bytes] = []
        self.size = 0
        """The bodies' bytes so far."""
        self.ts: list[bytes] = []
        self.done: list[tuple[int, str, bytes, bytes]] = []

    def add(self, row: tuple[Any, ...]) -> None:
        """A row that fits (:func:`fits`) added to the chunk being made."""
        (key, first_seq, kind, t, direction, nfacts, phase, host, method, url, status,
         headers, body, body_len_wire, events, req, sdk, frames, meta, notes, ref) = row
        if self.rows and key != self.first + len(self.rows):  # a key left out: another
            self.end()
        if not self.rows:
            self.first = key
        scalars = ENCODER.encode([first_seq, kind, direction, nfacts, phase, host, method,
                                  url, status])
        n = len(body) if ref is None else body
        self.rows.append(f"{scalars[:-1]},{headers},{n},{ENCODER.encode(body_len_wire)},"
                         f"{events},{ENCODER.encode(req)},{ENCODER.encode(sdk)},{frames},"
                         f"{meta},{notes},{'null' if ref is None else len(ref)}]")
        self.bodies.append(body if ref is None else ref)
        self.size += len(self.bodies[-1])
        self.ts.append(T.pack(t))
        if len(self.rows) >= self.limit or self.size >= CHUNK_BYTES:
            self.end()

    def end(self) -> None:
        """The chunk being made is done."""
        if self.rows:
            self.done.append((self.first, "[" + ",".join(self.rows) + "]",
                              b"".join(self.bodies), b"".join(self.ts)))
        self.rows, self.bodies, self.ts, self.size = [], [], [], 0


def read_back(fetch: Callable[..., list[tuple[Any, ...]]], key: int, mid: str,
              request_id: Callable[[int], str], last_body: object) -> Message:
    """The message of key in a chunk, as ``StoreWriter.message`` gives it (``mid`` its id;
    a body stored as a reference is ``last_body``, the last added draft's, the only one it
    reads back)."""
    (first, text, bodies, ts), = fetch(
        "SELECT key, rows, bodies, ts FROM chunks WHERE key <= ? ORDER BY key DESC LIMIT 1",
        (key,))
    values = loads(text)
    at = sum(map(held, values[:key - first]))
    v = values[key - first]
    facts, = fetch("SELECT source, conn, protocol, ip, port, sni, tls_version, cipher"
                   " FROM facts WHERE id=?", (v[3],))
    n, ref = v[10], v[18]
    body = bodies[at:at + n] if ref is None else last_body
    t, = T.unpack_from(ts, 8 * (key - first))
    return chunked(mid, v, t, facts, body, None if v[13] is None else request_id(v[13]), (),
                   True)

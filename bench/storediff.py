"""Compare two ``analysis.sqlite`` files message by message, as their reader gives them.

    PYTHONPATH=. python bench/storediff.py A/analysis.sqlite B/analysis.sqlite

Every field of every message in id order (``MessageStore.messages``: ids, request ids and
links as numbered, so two builds that write rows in another order compare equal when they
number them the same), each value with its type (an int where a float was is a difference),
and the meta table. A store of an older format (version 2: an ``ord`` table numbering the
rows) is read with that format's query and the same decoding, so a store built before a
format change compares with one built after it; their meta differ only in the version
(``store_version`` and the fingerprint's first field), which is not counted. Prints the
first differences and exits 1 when there are any: the exactness check behind every change to
the parsers or the store (with ``bench/ab_analyze.py`` for findings.json and
destinations.json).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
import sys
from collections.abc import Iterator
from operator import itemgetter
from pathlib import Path
from typing import Any

from harness.parse.message import Message
from harness.parse.rowcodec import decoded, loads
from harness.parse.store import numbers_of
from harness.parse.storechunk import T, held
from harness.parse.storeread import MessageStore, _row_held

V2_ROWS = ("SELECT ord.n, kind, t, direction, source, conn, phase, protocol, host, ip, port,"
           " sni, tls_version, cipher, method, url, status, headers, body, body_len_wire,"
           " events, (SELECT r.n FROM ord r WHERE r.key = m.request_key), sdk, frames, meta,"
           " notes, (SELECT group_concat(o.n) FROM links l JOIN ord o ON o.key = l.b"
           " WHERE l.a = m.key) FROM ord JOIN messages m ON m.key = ord.key ORDER BY ord.n")
"""The messages of a version 2 store, as its reader (storeread at 314184c) read them."""
V6_ROWS = ("SELECT j.key, kind, t, direction, f.source, f.conn, phase, f.protocol, host, f.ip,"
           " f.port, f.sni, f.tls_version, f.cipher, method, url, status, headers, body,"
           " body_len_wire, events, request_key, sdk, frames, meta, notes,"
           " (SELECT group_concat(l.b) FROM links l WHERE l.a = m.key), {ref}"
           " FROM json_each(?) j CROSS JOIN messages m ON m.key = j.value"
           " CROSS JOIN facts f ON f.id = m.facts")
"""The messages of a store of format 3 to 6 (one row each), as their reader (storeread at
d076dd3) read them: the numbering's keys in order, each one's row and facts."""
FIELDS = tuple(f.name for f in dataclasses.fields(Message))


def _v2(db: sqlite3.Connection) -> bool:
    cols = {c for _i, c, *_ in db.execute("PRAGMA table_info(ord)")}
    return cols == {"n", "key"}


def _v2_messages(db: sqlite3.Connection) -> Iterator[Message]:
    for (n, kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,
         tls_version, cipher, method, url, status, headers, body, body_len_wire, events,
         req_n, sdk, frames, meta, notes, links) in db.execute(V2_ROWS):
        yield decoded(
            f"m{n}", kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,
            tls_version, cipher, method, url, status, headers, body, body_len_wire, events,
            None if req_n is None else f"m{req_n}",
            tuple(f"m{x}" for x in sorted(int(v) for v in links.split(","))) if links
            else (), sdk, frames, meta, notes, True)


def _v6_messages(path: str, db: sqlite3.Connection) -> Iterator[Message]:
    """A store without chunks (format 6 and before), as its reader read it."""
    (text,), = db.execute("SELECT keys FROM numbering").fetchall()
    keys = json.loads(text)
    n_of = numbers_of(keys, len(keys))
    cols = {c for _i, c, *_ in db.execute("PRAGMA table_info(messages)")}
    store = MessageStore(Path(path))  # what reads the references' bodies
    try:
        waiting = []  # a few hundred rows' references read at once, as the reader did
        for row in db.execute(V6_ROWS.format(ref="body_ref" if "body_ref" in cols else "NULL"),
                              (text,)):
            waiting.append(_row_held(row[0], row))
            if len(waiting) >= 256:
                yield from store._resolved(waiting, n_of)
                waiting = []
        yield from store._resolved(waiting, n_of)
    finally:
        store.close()


def messages(path: str) -> Iterator[Message]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if _v2(db):
            yield from _v2_messages(db)
            return
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name='chunks'").fetchall():
            yield from _v6_messages(path, db)
            return
    finally:
        db.close()
    with MessageStore(Path(path)) as store:
        yield from store.messages()


def typed(v: object) -> object:
    """A field's value compared with its type: its repr (bool, int and float apart; a
    tuple's and a dict's items too), or the bytes themselves (a body: no copy)."""
    return v if type(v) is bytes else repr(v)


_ROW = ("SELECT key, first_seq, kind, t, direction, facts, phase, host, method, url, status,"
        " headers, body, body_len_wire, events, request_key, sdk, frames, meta, notes,"
        " body_ref FROM messages")
_JSON = (11, 14, 17, 18, 19)
"""Where the JSON columns are in a message's values (``stored``)."""


def stored(db: sqlite3.Connection) -> Iterator[tuple[Any, ...]]:
    """Every message of a store of this format as the file holds it, by key, wherever it is
    (a chunk, or a row of its own): key, first_seq, kind, t, direction, facts id, phase, host,
    method, url, status, headers, body, body_len_wire, events, request_key, sdk, frames, meta,
    notes, body_ref, the JSON columns decoded; a body stored as bytes its bytes, one stored
    as a reference its length (and body_ref the reference)."""
    out: list[tuple[Any, ...]] = []
    for row in db.execute(_ROW):
        out.append(tuple(loads(v) if i in _JSON else v for i, v in enumerate(row)))
    for key, text, bodies, ts in db.execute("SELECT key, rows, bodies, ts FROM chunks"):
        at = 0
        for j, v in enumerate(loads(text)):
            size = held(v)
            here = bodies[at:at + size]
            at += size
            t, = T.unpack_from(ts, 8 * j)
            ref = v[18] is not None
            out.append((key + j, *v[:2], t, *v[2:10], v[10] if ref else here, *v[11:18],
                        here if ref else None))
    return iter(sorted(out, key=itemgetter(0)))


def rows(path: str) -> Iterator[tuple[object, ...]]:
    """Every message of a store of this format as it is in the file, each value with its
    type: the numbering, the messages by key (``stored``, with their facts row's values: not
    its id, which two writers may give as they like), the links in the order written. Two
    writers that store the same messages under the same keys (the C writer and its
    reference) compare equal here, however they chunk them, stricter than through the reader
    (``first_seq`` and keys show)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        facts = {r[0]: r[1:] for r in db.execute("SELECT * FROM facts")}
        numbering = db.execute("SELECT keys FROM numbering").fetchall()
        links = db.execute("SELECT a, b FROM links ORDER BY rowid").fetchall()
        messages = [(*v[:5], *facts[v[5]], *v[6:11], repr(v[11]), *v[12:14], repr(v[14]),
                     *v[15:17], *map(repr, v[17:20]), v[20]) for v in stored(db)]
        for r in (*numbering, *messages, *links):
            yield (*r, *(type(v).__name__ for v in r))
    finally:
        db.close()


def meta(path: str) -> dict[str, str]:
    """The meta table, less the store's version (in the fingerprint too) and the capture
    file's stamp (format 6, in the fingerprint too: its size and times, which a copy of
    a run dir changes)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()
    out.pop("store_version", None)
    out.pop("capture_stamp", None)
    if "fingerprint" in out:  # version:count:markers:connections:phases[:stamp]
        out["fingerprint"] = ":".join(out["fingerprint"].split(":")[1:5])
    return out


def main(a: str, b: str, show: int = 10) -> int:
    diffs = 0
    n = 0
    with contextlib.closing(messages(a)) as ia, contextlib.closing(messages(b)) as ib:
        while True:
            ma, mb = next(ia, None), next(ib, None)
            if ma is None and mb is None:
                break
            n += 1
            if ma is None or mb is None:
                diffs += 1
                if diffs <= show:
                    print(f"message {n}: only in {'b' if ma is None else 'a'}")
                continue
            bad = [f for f in FIELDS
                   if typed(getattr(ma, f)) != typed(getattr(mb, f))]
            if bad:
                diffs += 1
                for f in bad[:show] if diffs <= show else ():
                    x, y = getattr(ma, f), getattr(mb, f)
                    print(f"{ma.id}: {f}: {repr(x)[:120]} != {repr(y)[:120]}")
    ma_, mb_ = meta(a), meta(b)
    if ma_ != mb_:
        diffs += 1
        print(f"meta: {ma_} != {mb_}")
    print(f"{n} messages compared, {diffs} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

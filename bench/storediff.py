"""Compare two ``analysis.sqlite`` files row for row, by message id (``m<n>``).

    python bench/storediff.py A/analysis.sqlite B/analysis.sqlite

Every column of every message (request and links as message numbers, not row keys, so two
builds that write rows in another order compare equal when they number them the same), and
the meta table. Prints the first differences and exits 1 when there are any: the exactness
check behind every change to the parsers or the store (with ``bench/ab_analyze.py`` for
findings.json and destinations.json).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator

ROWS = ("SELECT o.n, m.first_seq, m.kind, m.t, m.direction, m.source, m.conn, m.phase,"
        " m.protocol, m.host, m.ip, m.port, m.sni, m.tls_version, m.cipher, m.method, m.url,"
        " m.status, m.headers, m.body, m.body_len, m.body_len_wire, m.events,"
        " (SELECT r.n FROM ord r WHERE r.key = m.request_key), m.sdk, m.frames, m.meta,"
        " m.notes, (SELECT group_concat(x.n) FROM (SELECT lo.n AS n FROM links l"
        " JOIN ord lo ON lo.key = l.b WHERE l.a = m.key ORDER BY lo.n) x)"
        " FROM ord o JOIN messages m ON m.key = o.key ORDER BY o.n")
NAMES = ("n", "first_seq", "kind", "t", "direction", "source", "conn", "phase", "protocol",
         "host", "ip", "port", "sni", "tls_version", "cipher", "method", "url", "status",
         "headers", "body", "body_len", "body_len_wire", "events", "request", "sdk", "frames",
         "meta", "notes", "links")


def rows(path: str) -> Iterator[tuple[object, ...]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        # typeof() too: an int where a float was (or text where an int was) is a difference
        yield from ((*r, *(type(v).__name__ for v in r)) for r in db.execute(ROWS))
    finally:
        db.close()


def meta(path: str) -> dict[str, str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT key, value FROM meta"))
    finally:
        db.close()


def main(a: str, b: str, show: int = 10) -> int:
    diffs = 0
    n = 0
    ia, ib = rows(a), rows(b)
    while True:
        ra, rb = next(ia, None), next(ib, None)
        if ra is None and rb is None:
            break
        n += 1
        if ra != rb:
            diffs += 1
            if diffs <= show:
                if ra is None or rb is None:
                    print(f"row {n}: only in {'b' if ra is None else 'a'}")
                    continue
                for i, (x, y) in enumerate(zip(ra, rb, strict=True)):
                    if x != y:
                        name = NAMES[i % len(NAMES)] + (" (type)" if i >= len(NAMES) else "")
                        print(f"m{ra[0]}: {name}: {str(x)[:120]!r} != {str(y)[:120]!r}")
    ma, mb = meta(a), meta(b)
    if ma != mb:
        diffs += 1
        print(f"meta: {ma} != {mb}")
    print(f"{n} rows compared, {diffs} differ")
    return 1 if diffs else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))

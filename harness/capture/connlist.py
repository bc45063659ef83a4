"""The queries behind :meth:`CaptureReader.conn_ids`: each connection with events of one
kind and its first seq, in capture order (the list the builder goes through one connection
at a time).

:data:`BY_GROUP` says what the list is: the events of the kind grouped by ``conn``. For a kind
``events_kind`` leaves out (stream records, nearly every row of a capture) SQLite answers it
by walking ``events_conn`` and reading every row from the table to test its kind: ~2,000
instructions a row, 608 M for the 200 MB bench capture's 309,000 rows (callgrind).
:data:`BY_SEEK` gets the same list from ``events_conn`` with a few seeks a connection
(65 M for its 3,062 connections): from each conn to the next greater one, and in each to its
first row of the kind. It gives the same rows in the same order because

- the groups are the same: GROUP BY puts two rows in one group when their conns compare
  equal, with the column's own comparison; stepping from the least conn to the least
  greater one, with that comparison, meets each group once. NULL is a group of its own, and
  the steps meet it once: a scalar subquery that finds no row is NULL, which ends them;
- a group's first seq is the same: ``min(seq)`` of its rows of the kind is the first of them
  in the index's (conn, seq) order;
- the conn given is the same: GROUP BY gives the conn of the row ``min()`` chose (SQLite's
  rule for a bare column beside min), and BY_SEEK reads it from that row, not from the step;
- the order is the same: by that seq, which no two groups share (``seq`` is the rowid).

``kind = ?`` is the same expression in both, so a kind that is not text (a damaged row)
matches in one exactly when in the other. What this leans on is the events table and its
index as the writer makes them (``seq`` the rowid; ``events_conn`` to seek by, which
``INDEXED BY`` then insists on): :func:`seekable` checks the capture has both exactly as
:data:`~harness.capture.dbformat.SCHEMA` writes them, as every format so far has; a capture
that does not (made by another tool, or a later format) is read with BY_GROUP.
"""

from __future__ import annotations

import functools
import sqlite3

from harness.capture.dbformat import SCHEMA

BY_GROUP = ("SELECT conn, min(seq) AS first FROM events WHERE kind=? GROUP BY conn"
            " ORDER BY first")
"""The connection list by its definition (and its reference)."""

BY_SEEK = """
WITH RECURSIVE c(conn) AS (
  SELECT (SELECT conn FROM events INDEXED BY events_conn WHERE conn IS NOT NULL
          ORDER BY conn LIMIT 1)
  UNION ALL
  SELECT (SELECT conn FROM events INDEXED BY events_conn WHERE conn > c.conn
          ORDER BY conn LIMIT 1) FROM c WHERE c.conn IS NOT NULL)
SELECT e.conn, e.seq FROM c, events e
WHERE e.seq = (SELECT seq FROM events INDEXED BY events_conn WHERE conn IS c.conn AND kind=?
               ORDER BY seq LIMIT 1)
ORDER BY e.seq"""
"""The connection list, one seek to each conn and one to its first row of the kind."""

_TABLES = ("events", "events_conn")


@functools.cache
def _written() -> list[tuple[str, str, str]]:
    """The CREATE text SQLite keeps for the events table and ``events_conn`` when the writer
    makes them (:data:`SCHEMA`, unchanged since the first format)."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(SCHEMA)
        return _created(db)
    finally:
        db.close()


def _created(db: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return sorted(db.execute("SELECT type, name, sql FROM sqlite_master WHERE name IN (?, ?)",
                             _TABLES))


def seekable(db: sqlite3.Connection) -> bool:
    """Whether :data:`BY_SEEK` may read this capture: its events table and ``events_conn``
    are the writer's."""
    return _created(db) == _written()

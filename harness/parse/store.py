"""The message store: ``analysis.sqlite`` in the run dir, derived from ``capture.sqlite``.

Rebuildable at any time (``harness analyze`` does; ``MessageStore.open``, the reader in
:mod:`harness.parse.storeread`, does when the file is missing or older than the capture).
Ids are ``m<N>``, N counting messages in capture order (the seq of each message's first
event), so a rebuild of the same capture gives the same ids and findings, verdicts and
reports can cite them.

Streaming both ways: the builder writes drafts one at a time into a staging table and
numbers them at the end; readers (:mod:`harness.parse.storeread`) iterate a cursor. Neither
holds all messages (nor a 200 MB body more than once) in memory.

Bodies the capture holds byte for byte are stored as references to its events, not copied
(format 6, :mod:`harness.parse.bodyref`): the builder hands the writer each connection's
flows (:meth:`StoreWriter.use_flows`), and a row's ``body`` is then the body's length and
``body_ref`` where its bytes are; a body the parsers decoded whole, where its bytes as sent
are (format 7), the codings to undo as well. Such a store is read next to the capture it was
built from.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.errors import RunDirError
from harness.parse import bodyref
from harness.parse.draft import Draft
from harness.parse.message import Message
from harness.parse.rowcodec import ENCODER, KINDS, VALUES, Dumps, decoded, new_message
from harness.parse.storechunk import Chunks, fits, read_back
from harness.parse.storeformat import (
    _CHUNK,
    _FACTS,
    _INSERT,
    _NUMBER_ROWS,
    _NUMBERING,
    _PRAGMAS,
    _SCHEMA,
    CHUNK_BYTES,
)
from harness.parse.storeformat import ANALYSIS_DB as ANALYSIS_DB  # store's own name, as ever
from harness.parse.storeformat import CHUNK_MESSAGES as CHUNK_MESSAGES
from harness.parse.storeformat import STORE_VERSION as STORE_VERSION

if TYPE_CHECKING:  # builder imports this module
    from harness.parse.reassembly import Coded
    from harness.parse.stamps import Stamps

try:
    from harness.parse import _store
except ImportError:  # an unbuilt checkout: the sqlite3 module writes the same rows
    _store = None  # type: ignore[assignment]

def _null(value: None) -> None:
    return value


# sqlite3 adapts every parameter that is not an int, float, str or bytearray before binding
# it: for None it tries a registry lookup and two protocol attributes (~0.8 µs), and a
# message row has five or six Nones (~0.1 s of 0.45 s of inserts on the 20 MB benchmark).
# None's own adapter, which hands None back (bound as NULL as before), makes that one dict
# lookup. The registry is the process's: every connection binds its Nones this way, to the
# same NULL.
sqlite3.register_adapter(type(None), _null)


class _Database(Protocol):
    """The SQL both writers run the same way (links, numbering, meta, reading back)."""

    def execute(self, sql: str, params: tuple[object, ...] = ..., /) -> None: ...
    def fetch(self, sql: str, params: tuple[object, ...] = ...,
              /) -> list[tuple[Any, ...]]: ...
    def close(self) -> None: ...


class _Connection:
    """The reference writer's database: the sqlite3 module's connection, with the
    ``execute`` and ``fetch`` of ``_store.Writer`` (for what both writers share)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path)
        try:
            self.db.executescript(_PRAGMAS + _SCHEMA)
        except BaseException:  # the writer never got this connection: close it here
            self.db.close()
            raise

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        self.db.execute(sql, params)

    def fetch(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.db.close()


class StoreWriter:
    """Builds a store in a temporary file; :meth:`finish` numbers and publishes it.

    Through ``_store.Writer`` (harness/parse/_store.c) when it is built: each row written at
    once through SQLite's C API, its JSON and its Message made from the draft's own values.
    ``compiled=False`` (or an unbuilt checkout) writes with the sqlite3 module and ``json``:
    the reference (tests/parse/test_store_c.py compares the two, with few ``rows`` a chunk).
    A message goes in a chunk (storeformat.py: several a row) where its values read back as
    JSON gives them, which is where :meth:`message` takes them as they are; any other is a
    row of its own, which message() reads back."""

    def __init__(self, path: Path, compiled: bool = True, rows: int = CHUNK_MESSAGES) -> None:
        self.path = path
        self.tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # builders may race
        self._finished = False
        self._next = 0
        self._rows: list[tuple[object, ...]] = []
        self._chunks = Chunks(rows)
        """The reference's chunks (storechunk.py), of the rows that fit in one."""
        self._facts: tuple[object, ...] = ()
        """The facts of the last row :meth:`add` gave a facts row (its id ``_nfacts``)."""
        self._nfacts = 0
        self._facts_rows: list[tuple[object, ...]] = []
        self._pending = 0
        self._dumps = Dumps()
        self._last: tuple[Any, ...] = ()
        self._firsts: list[int] = []
        """Each key's ``first_seq`` (key 1 first): :meth:`finish` numbers by them."""
        self.links_of: dict[int, list[int]] = {}
        """Keys each key is linked to, in the order :meth:`link` wrote them."""
        self._flows: dict[str, tuple[tuple[bytes, list[int], list[int]],
                                     dict[int, Coded | None]]] | None = None
        """The connection's flows (:meth:`use_flows`): direction → (data, starts, seqs) and
        the bodies decoded from it (:attr:`Flow.coded`)."""
        self._last_body: object = b""
        self._c: _store.Writer | None = None
        self._py: _Connection | None = None
        db: _Database
        try:
            with contextlib.suppress(FileNotFoundError):
                self.tmp.unlink()
            # _store makes Messages by setting their slots, as rowcodec.new_message does;
            # should Message gain a __post_init__ (new_message is then Message itself), only
            # the reference would run it
            if compiled and _store is not None and new_message is not Message:
                self._c = db = _store.Writer(self.tmp, _PRAGMAS + _SCHEMA + "BEGIN;", _INSERT,
                                             _FACTS, Draft, Message, VALUES, KINDS, self._dumps,
                                             self._firsts, _CHUNK, rows, CHUNK_BYTES)
            else:
                self._py = db = _Connection(self.tmp)
        except (OSError, sqlite3.Error) as exc:
            self.close()
            # one line naming the file (exit 2) rather than SQLite's "unable to open"
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise RunDirError(f"cannot write the message store ({self.tmp.name}: {why})",
                              path=str(path)) from exc
        self._db = db

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for db in (self._c, self._py):
            if db is not None:
                db.close()
        if not self._finished:
            with contextlib.suppress(OSError):
                self.tmp.unlink()

    def add(self, d: Draft) -> int:
        """Queue a draft for writing; its key is known at once (responses cite it)."""
        if self._c is not None:
            return self._c.add(d)  # which appends d.first_seq to _firsts
        self._firsts.append(d.first_seq)
        self._next += 1
        d.key = self._next
        req = d.request.key if d.request is not None and d.request.key >= 0 else None
        dumps = self._dumps
        self._last = (
            d.key, d.first_seq, VALUES[d.kind], d.t, d.direction, d.source, d.conn, d.phase,
            d.protocol, d.host, d.ip, d.port, d.sni, d.tls_version, d.cipher, d.method, d.url,
            d.status, dumps(d.headers), d.body, len(d.body), d.body_len_wire,
            dumps.seqs(d.events), req, d.sdk, dumps(d.frames), dumps(d.meta), dumps(d.notes))
        facts = (d.source, d.conn, d.protocol, d.ip, d.port, d.sni, d.tls_version, d.cipher)
        if not self._nfacts or not all(map(_same, facts, self._facts)):
            self._nfacts += 1
            self._facts = facts
            self._facts_rows.append((self._nfacts, *facts))
        last = self._last
        flows, direction = self._flows, d.direction
        flow = flows.get(direction) if flows is not None and type(direction) is str else None
        ref = None if flow is None else (bodyref.find_coded(*flow[0], d.events, d.body, flow[1])
                                         or bodyref.find(*flow[0], d.events, d.body))
        self._last_body = d.body
        # the row: the facts' id for their values, and no len(body) (asked above only to
        # refuse a body without one, as the C writer does); a body found in the capture its
        # length and where it is
        row = (*last[:5], self._nfacts, d.phase, d.host, *last[15:19],
               last[19] if ref is None else last[20], *last[21:], ref)
        if fits(row, facts, d.body):
            self._chunks.add(row)
        else:  # a row of its own, after the chunk before it
            self._chunks.end()
            self._rows.append(row)
        self._pending += len(d.body) + 512
        if len(self._rows) >= 2000 or self._pending >= 32 * 1024 * 1024:
            self._flush()
        return d.key

    def _flush(self) -> None:
        self._chunks.end()
        if self._chunks.done and self._py is not None:
            self._py.db.executemany(_CHUNK, self._chunks.done)
        self._chunks.done = []
        if self._facts_rows and self._py is not None:
            self._py.db.executemany(_FACTS, self._facts_rows)
        self._facts_rows = []
        if self._rows and self._py is not None:
            self._py.db.executemany(_INSERT, self._rows)
        self._rows = []
        self._pending = 0

    def message(self) -> Message:
        """The draft :meth:`add` queued last, as ``MessageStore`` (storeread) will read it back,
        except that ids are not numbered yet: ``id`` and ``request_id`` are key ids
        (:func:`key_id`) and ``links`` is empty (links are written at the end). Built from
        the row itself, so the JSON columns decode from the text the store holds; a row
        with a value SQLite would convert (its column's affinity: an int in a TEXT column,
        an int or zero ``t``, a bool port) is read back from the file instead. The C writer
        takes the draft's values where they are what that decoding gives, and reads back
        any other row."""
        if self._c is not None:
            m = self._c.message()
            return self._read_back(self._c.count) if m is None else m
        (key, _seq, kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,
         tls_version, cipher, method, url, status, headers, body, _len, body_len_wire,
         events, req, sdk, frames, meta, notes) = self._last
        # SQLite keeps a REAL that is a whole number as an integer: -0.0 comes back as 0.0
        if (type(t) is not float or not t or type(body) is not bytes
                or not {type(port), type(status), type(body_len_wire)} <= _INTS
                or not {type(direction), type(source), type(conn), type(phase),
                        type(protocol), type(host), type(ip), type(sni), type(tls_version),
                        type(cipher), type(method), type(url), type(sdk)} <= _TEXTS):
            return self._read_back(key)
        return decoded(key_id(key), kind, t, direction, source, conn, phase, protocol, host,
                        ip, port, sni, tls_version, cipher, method, url, status, headers,
                        body, body_len_wire, events,
                        None if req is None else key_id(req), (), sdk, frames, meta, notes,
                        True)

    def _read_back(self, key: int) -> Message:
        self._flush()
        if not self._db.fetch("SELECT 1 FROM messages WHERE key=?", (key,)):
            return read_back(self._db.fetch, key, key_id(key), key_id,
                             self._c.last_body if self._c is not None else self._last_body)
        (kind, t, direction, source, conn, phase, protocol, host, ip, port, sni, tls_version,
         cipher, method, url, status, headers, body, body_len_wire, events, req, sdk, frames,
         meta, notes, ref), = self._db.fetch(
            "SELECT kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,"
            " tls_version, cipher, method, url, status, headers, body, body_len_wire, events,"
            " request_key, sdk, frames, meta, notes, body_ref IS NOT NULL FROM messages JOIN"
            " facts ON facts.id = messages.facts WHERE key=?", (key,))
        if ref:  # the row is the last one added (message() reads no other): its body
            body = self._c.last_body if self._c is not None else self._last_body
        return decoded(key_id(key), kind, t, direction, source, conn, phase, protocol, host,
                        ip, port, sni, tls_version, cipher, method, url, status, headers,
                        body, body_len_wire, events,
                        None if req is None else key_id(req), (), sdk, frames, meta, notes,
                        True)

    def add_message(self, d: Draft) -> Message:
        """:meth:`add`, then :meth:`message` (through the C writer, one call of it: the two
        methods' Python frames were ~1,500 instructions a row, 6% of the writer's)."""
        c = self._c
        if c is not None:
            m = c.add_message(d)
            return self._read_back(c.count) if m is None else m
        self.add(d)
        return self.message()

    def message_adder(self) -> Callable[[Draft], Message | None]:
        """:meth:`add_message` for a caller that writes every message (the builder): the C
        writer's own method where it is built, so no Python frame a message (~475
        instructions, 2% of what the builder's loop and the writer cost a message). It
        gives None where :meth:`message` has to read the row back: ask that then."""
        return self._c.add_message if self._c is not None else self.add_message

    def putter(self) -> Callable[[list[Draft], str | None, Stamps], None] | None:
        """The C writer's ``put`` (``stamps.put_drafts`` in C, each message made of its
        draft), or None (the reference writer): what the builder calls a connection."""
        return self._c.put if self._c is not None else None

    def _order(self, count: int) -> list[int] | None:
        """The keys in :data:`_NUMBER`'s order (``first_seq``, then key), sorted here from
        the values :meth:`add` was given rather than by SQLite from the table (which reads
        every row's page back: 0.45 -> 0.2 s on the 200 MB benchmark); None when a
        ``first_seq`` is not an int (SQLite may store it converted, and orders other types
        its own way)."""
        firsts = self._firsts
        if len(firsts) != count or not set(map(type, firsts)) <= {int}:
            return None
        # a stable sort: equal first_seqs stay in key order
        return [i + 1 for i in sorted(range(count), key=firsts.__getitem__)]

    def use_flows(self, flows: dict[str, Any] | None) -> None:
        """The flows (:class:`harness.parse.reassembly.Flow` by direction) the drafts added
        next were parsed from, for their bodies to be stored as references to the capture
        where they are found there (:mod:`harness.parse.bodyref`); None: none (records,
        datagrams, a store not built from a capture)."""
        if self._c is not None:
            out, inward = (None, None) if flows is None else (
                (f.data, *f.columns(), f.coded) if f is not None else None
                for f in (flows.get("out"), flows.get("in")))
            self._c.use_flows(out, inward)  # which checks them as bodyref.columns does
        else:
            self._flows = None if flows is None else {
                k: (cols, f.coded) for k, f in flows.items()
                if k in ("out", "in") and (cols := bodyref.columns(f.data, *f.columns()))}

    def link(self, a: int, b: int) -> None:
        """Record that two messages are the same traffic seen by two layers."""
        for pair in ((a, b), (b, a)):
            self._db.execute("INSERT INTO links(a, b) VALUES(?, ?)", pair)
        self.links_of.setdefault(a, []).append(b)
        self.links_of.setdefault(b, []).append(a)

    def finish(self, meta: dict[str, str], numbers: bool = False) -> list[int] | None:
        """Number the messages and publish the store. With ``numbers``: each key's number
        (``m<n>``), as ``numbering`` holds it, in a list indexed by key (index 0 unused)."""
        self._flush()
        n_of = None if self._c is None else self._c.number(_NUMBERING, numbers)
        if n_of is None:
            n_of = self._number(numbers)
        db = self._db
        db.execute("CREATE INDEX links_a ON links(a)")
        for item in {**meta, "store_version": str(STORE_VERSION)}.items():
            db.execute("INSERT INTO meta VALUES(?, ?)", item)
        if self._py is not None:
            self._py.db.commit()
        else:
            db.execute("COMMIT")
        db.close()
        os.replace(self.tmp, self.path)
        self._finished = True
        return n_of if numbers else None

    def _number(self, numbers: bool) -> list[int]:
        """``numbering`` written (what ``_store.Writer.number`` does in C, the reference),
        and with ``numbers`` each key's number in a list indexed by key, else []."""
        db = self._db
        count = self._c.count if self._c is not None else self._next
        order = self._order(count)
        if order is None:
            # SQLite orders what is not an int its own way: the messages in chunks (whose
            # first_seq are ints) go to it in a table of its temp database, as their JSON
            # may hold what its JSON functions refuse (NaN, Infinity in a meta)
            db.execute("CREATE TEMP TABLE chunked(key INTEGER PRIMARY KEY, first_seq INTEGER)")
            for first, n in db.fetch("SELECT key, length(ts) / 8 FROM chunks"):
                for key in range(first, first + n):
                    db.execute("INSERT INTO temp.chunked VALUES(?, ?)",
                               (key, self._firsts[key - 1]))
            order = [key for key, in db.fetch(_NUMBER_ROWS)]
        db.execute(_NUMBERING, (ENCODER.encode(order),))
        return numbers_of(order, count) if numbers else []


def numbers_of(order: list[int], count: int) -> list[int]:
    """Each key's number (``m<n>``) in a list indexed by key (index 0 unused), from the keys
    in number order (what ``numbering`` holds): keys are 1 to ``count``."""
    n_of = [0] * (count + 1)
    for n, key in enumerate(order, 1):
        n_of[key] = n
    return n_of


def _same(a: object, b: object) -> bool:
    """Whether a facts value binds what another did: the same None, str or int, or an equal
    str or int (a bool, a float and the rest are a new facts row; any rule that never calls
    two values the same that SQLite stores differently would do)."""
    return (a is b and (a is None or type(a) in _SAME)) or (
        type(a) is type(b) and type(a) in _SAME and a == b)


_SAME = frozenset({str, int})
_TEXTS = frozenset({str, type(None)})
_INTS = frozenset({int, type(None)})


def key_id(key: int) -> str:
    """A message's id before the store numbers it (``k<row key>``): what
    :meth:`StoreWriter.message` gives, until the build maps it to ``m<n>``."""
    return f"k{key}"

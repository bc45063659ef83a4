"""The message store: ``analysis.sqlite`` in the run dir, derived from ``capture.sqlite``.

Rebuildable at any time (``harness analyze`` does; :meth:`MessageStore.open` does when the
file is missing or older than the capture). Ids are ``m<N>``, N counting messages in capture
order (the seq of each message's first event), so a rebuild of the same capture gives the
same ids and findings, verdicts and reports can cite them.

Streaming both ways: the builder writes drafts one at a time into a staging table and
numbers them at the end in SQL; readers iterate a cursor. Neither holds all messages (nor a
200 MB body more than once) in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from harness.capture.rundir import RunDir
from harness.errors import RunDirError
from harness.parse.draft import Draft
from harness.parse.message import Message, MessageKind
from harness.protocol import JSON
from harness.text import is_digits

ANALYSIS_DB = "analysis.sqlite"
STORE_VERSION = 2
"""Bump when parsing changes what it produces: stores of another version are rebuilt."""

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE messages(
  key INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, kind TEXT NOT NULL,
  t REAL NOT NULL, direction TEXT NOT NULL, source TEXT NOT NULL, conn TEXT, phase TEXT,
  protocol TEXT, host TEXT, ip TEXT, port INTEGER, sni TEXT, tls_version TEXT, cipher TEXT,
  method TEXT, url TEXT, status INTEGER, headers TEXT NOT NULL, body BLOB NOT NULL,
  body_len INTEGER NOT NULL, body_len_wire INTEGER, events TEXT NOT NULL,
  request_key INTEGER, sdk TEXT, frames TEXT NOT NULL, meta TEXT NOT NULL,
  notes TEXT NOT NULL);
CREATE TABLE links(a INTEGER NOT NULL, b INTEGER NOT NULL);
CREATE TABLE ord(n INTEGER PRIMARY KEY, key INTEGER NOT NULL UNIQUE);
"""
# ``ord`` numbers the messages (m<n>) after the fact without rewriting their rows (bodies).

_COLS = ("ord.n, kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,"
         " tls_version, cipher, method, url, status, headers, {body}, body_len_wire, events,"
         " (SELECT r.n FROM ord r WHERE r.key = m.request_key), sdk, frames, meta,"
         " notes, (SELECT group_concat(o.n) FROM links l JOIN ord o ON o.key = l.b"
         " WHERE l.a = m.key)")
_FROM = " FROM ord JOIN messages m ON m.key = ord.key"


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _null(value: None) -> None:
    return value


# sqlite3 adapts every parameter that is not an int, float, str or bytearray before binding
# it: for None it tries a registry lookup and two protocol attributes (~0.8 µs), and a
# message row has five or six Nones (~0.1 s of 0.45 s of inserts on the 20 MB benchmark).
# None's own adapter, which hands None back (bound as NULL as before), makes that one dict
# lookup. The registry is the process's: every connection binds its Nones this way, to the
# same NULL.
sqlite3.register_adapter(type(None), _null)


class _Dumps:
    """``_ENCODER.encode`` for one writer's columns, minus what it redoes per call: json's
    ``encode`` builds a new C encoder (and a closure) every time, which was ~60% of the cost
    of a header list (five columns a message). This keeps one C encoder, made with the
    arguments ``iterencode`` gives it, so the text is the same by construction (tests/parse/
    test_store.py compares the two). Its circular-reference table is left empty by a
    successful call; one that raises (a value json cannot encode) may leave entries behind,
    so it is cleared then."""

    def __init__(self) -> None:
        self._markers: dict[int, object] = {}
        # json's C encoder class (None without the _json accelerator: then encode() alone)
        make: Callable[..., Callable[[object, int], list[str]]] | None = getattr(
            json.encoder, "c_make_encoder", None)
        self._encode = None if make is None else make(
            self._markers, _ENCODER.default, json.encoder.encode_basestring_ascii, None,
            _ENCODER.key_separator, _ENCODER.item_separator, _ENCODER.sort_keys,
            _ENCODER.skipkeys, _ENCODER.allow_nan)

    def __call__(self, value: object) -> str:
        kind = type(value)
        if kind is list or kind is tuple or kind is dict:
            if not value:  # most frames and notes
                return "{}" if kind is dict else "[]"
            if self._encode is not None:
                try:
                    return "".join(self._encode(value, 0))
                except BaseException:
                    self._markers.clear()
                    raise
        return _ENCODER.encode(value)

    def seqs(self, value: object) -> str:
        """``self(value)`` for a message's event seqs, one or two ints mostly: those written
        straight (an int's JSON is its ``str``; a bool's is not, so not those)."""
        if type(value) is tuple:
            if len(value) == 1:
                a = value[0]
                if type(a) is int:
                    return f"[{a}]"
            elif len(value) == 2:
                a, b = value
                if type(a) is int and type(b) is int:
                    return f"[{a},{b}]"
        return self(value)


_VALUES = {k: k.value for k in MessageKind}
"""A kind's column text: one dict lookup, where ``.value`` is a property (enum's)."""


class StoreWriter:
    """Builds a store in a temporary file; :meth:`finish` numbers and publishes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # builders may race
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()
        self._db = sqlite3.connect(self.tmp)
        # Bodies are most of the bytes: 16 KiB pages hold them in a quarter of the overflow
        # pages (inserts 0.47 -> 0.41 s on the 20 MB benchmark; reading no slower). A file
        # property only: any page size reads the same.
        self._db.execute("PRAGMA page_size=16384")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.executescript(_SCHEMA)
        self._finished = False
        self._next = 0
        self._rows: list[tuple[object, ...]] = []
        self._pending = 0
        self._dumps = _Dumps()
        self._last: tuple[Any, ...] = ()
        self.links_of: dict[int, list[int]] = {}
        """Keys each key is linked to, in the order :meth:`link` wrote them."""

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if not self._finished:
            with contextlib.suppress(OSError):
                self.tmp.unlink()

    def add(self, d: Draft) -> int:
        """Queue a draft for writing; its key is known at once (responses cite it)."""
        self._next += 1
        d.key = self._next
        req = d.request.key if d.request is not None and d.request.key >= 0 else None
        dumps = self._dumps
        self._last = row = (
            d.key, d.first_seq, _VALUES[d.kind], d.t, d.direction, d.source, d.conn, d.phase,
            d.protocol, d.host, d.ip, d.port, d.sni, d.tls_version, d.cipher, d.method, d.url,
            d.status, dumps(d.headers), d.body, len(d.body), d.body_len_wire,
            dumps.seqs(d.events), req, d.sdk, dumps(d.frames), dumps(d.meta), dumps(d.notes))
        self._rows.append(row)
        self._pending += len(d.body) + 512
        if len(self._rows) >= 2000 or self._pending >= 32 * 1024 * 1024:
            self._flush()
        return d.key

    def _flush(self) -> None:
        if self._rows:
            self._db.executemany(
                "INSERT INTO messages(key, first_seq, kind, t, direction, source, conn, phase,"
                " protocol, host, ip, port, sni, tls_version, cipher, method, url, status,"
                " headers, body, body_len, body_len_wire, events, request_key, sdk, frames,"
                " meta, notes) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                self._rows)
        self._rows = []
        self._pending = 0

    def message(self) -> Message:
        """The draft :meth:`add` queued last, as :class:`MessageStore` will read it back,
        except that ids are not numbered yet: ``id`` and ``request_id`` are key ids
        (:func:`key_id`) and ``links`` is empty (links are written at the end). Built from
        the row itself, so the JSON columns decode from the text the store holds; a row
        with a value SQLite would convert (its column's affinity: an int in a TEXT column,
        an int or zero ``t``, a bool port) is read back from the file instead."""
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
        return _decoded(key_id(key), kind, t, direction, source, conn, phase, protocol, host,
                        ip, port, sni, tls_version, cipher, method, url, status, headers,
                        body, body_len_wire, events,
                        None if req is None else key_id(req), (), sdk, frames, meta, notes,
                        True)

    def _read_back(self, key: int) -> Message:
        self._flush()
        row = self._db.execute(
            "SELECT kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,"
            " tls_version, cipher, method, url, status, headers, body, body_len_wire, events,"
            " request_key, sdk, frames, meta, notes FROM messages WHERE key=?",
            (key,)).fetchone()
        (kind, t, direction, source, conn, phase, protocol, host, ip, port, sni, tls_version,
         cipher, method, url, status, headers, body, body_len_wire, events, req, sdk, frames,
         meta, notes) = row
        return _decoded(key_id(key), kind, t, direction, source, conn, phase, protocol, host,
                        ip, port, sni, tls_version, cipher, method, url, status, headers,
                        body, body_len_wire, events,
                        None if req is None else key_id(req), (), sdk, frames, meta, notes,
                        True)

    def link(self, a: int, b: int) -> None:
        """Record that two messages are the same traffic seen by two layers."""
        self._db.executemany("INSERT INTO links(a, b) VALUES(?, ?)", [(a, b), (b, a)])
        self.links_of.setdefault(a, []).append(b)
        self.links_of.setdefault(b, []).append(a)

    def finish(self, meta: dict[str, str], numbers: bool = False) -> list[int] | None:
        """Number the messages and publish the store. With ``numbers``: each key's number
        (``m<n>``), as ``ord`` holds it, in a list indexed by key (index 0 unused)."""
        self._flush()
        db = self._db
        db.execute("INSERT INTO ord(n, key) SELECT row_number() OVER"
                   " (ORDER BY first_seq, key), key FROM messages")
        n_of: list[int] | None = None
        if numbers:
            n_of = [0] * (self._next + 1)
            for n, key in db.execute("SELECT n, key FROM ord"):
                n_of[key] = n
        db.execute("CREATE INDEX links_a ON links(a)")
        meta = {**meta, "store_version": str(STORE_VERSION)}
        db.executemany("INSERT INTO meta VALUES(?, ?)", list(meta.items()))
        db.commit()
        db.close()
        os.replace(self.tmp, self.path)
        self._finished = True
        return n_of


class MessageStore:
    """Read the messages of a run (or of any ``analysis.sqlite``)."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise RunDirError("no message store", path=str(path))
        self.path = path
        self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    @classmethod
    def open(cls, run: RunDir | Path | str, rebuild: bool = False) -> MessageStore:
        """The store of a run dir, built (or rebuilt when stale or ``rebuild``) first."""
        from harness.parse.builder import build_messages, is_current  # builder imports us

        rd = run if isinstance(run, RunDir) else RunDir.open(run)
        path = rd.file(ANALYSIS_DB)
        if rebuild or not is_current(rd):
            build_messages(rd)
        return cls(path)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()

    def __enter__(self) -> MessageStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def count(self, kind: MessageKind | None = None) -> int:
        if kind is None:
            return int(self._db.execute("SELECT count(*) FROM messages").fetchone()[0])
        return int(self._db.execute("SELECT count(*) FROM messages WHERE kind=?",
                                    (kind.value,)).fetchone()[0])

    def messages(self, kinds: Iterable[MessageKind] | None = None,
                 with_body: bool = True) -> Iterator[Message]:
        """All messages in id order. ``with_body=False`` leaves ``body`` empty (cheap)."""
        sql = "SELECT " + _COLS.format(body="body" if with_body else "body_len") + _FROM
        args: list[str] = []
        if kinds is not None:
            ks = [k.value for k in kinds]
            sql += f" WHERE kind IN ({','.join('?' * len(ks))})"
            args = ks
        cur = self._db.execute(sql + " ORDER BY ord.n", args)
        try:
            for row in cur:
                yield _message(row, with_body)
        finally:
            cur.close()

    def get(self, message_id: str) -> Message:
        """One message by id; KeyError when there is none."""
        if not message_id.startswith("m") or not is_digits(message_id[1:]):
            raise KeyError(message_id)
        row = self._db.execute("SELECT " + _COLS.format(body="body") + _FROM +
                               " WHERE ord.n=?", (int(message_id[1:]),)).fetchone()
        if row is None:
            raise KeyError(message_id)
        return _message(row, True)


_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__


def _loads(text: str) -> Any:
    """JSON the writer made (compact, no surrounding space): json's C scanner straight,
    without decode()'s two whitespace matches (three of these a message, every reader)."""
    return _scan(text, 0)[0]
_KINDS = {k.value: k for k in MessageKind}
_TEXTS = frozenset({str, type(None)})
_INTS = frozenset({int, type(None)})


def key_id(key: int) -> str:
    """A message's id before the store numbers it (``k<row key>``): what
    :meth:`StoreWriter.message` gives, until the build maps it to ``m<n>``."""
    return f"k{key}"


def _list(text: str) -> tuple[Any, ...]:
    return () if text == "[]" else tuple(_loads(text))


def _maker() -> Callable[..., Message]:
    """``Message(*values)`` without its ``__init__``, which sets each of a frozen dataclass's
    27 fields through ``object.__setattr__`` (half the cost of a message read or streamed,
    ~8 µs); this sets the slots straight, in field order (~4 µs). A function written for the
    fields as dataclasses writes ``__init__``; the class itself, frozen, is untouched. Only
    while Message has no ``__post_init__`` (else nothing would run it): then Message itself.
    tests/parse/test_store.py compares the two."""
    names = [f.name for f in fields(Message)]
    if hasattr(Message, "__post_init__") or not all(f.init for f in fields(Message)):
        return Message
    ns: dict[str, Any] = {"new": object.__new__, "cls": Message}
    ns.update({f"set_{n}": getattr(Message, n).__set__ for n in names})
    # the source holds field names only (identifiers), as dataclasses' own __init__ does
    exec(f"def make({', '.join(names)}):\n    m = new(cls)\n"
         + "".join(f"    set_{n}(m, {n})\n" for n in names) + "    return m\n", ns)
    make: Callable[..., Message] = ns["make"]
    return make


_new_message = _maker()


def _message(row: tuple[Any, ...], with_body: bool) -> Message:
    # Rows are written by StoreWriter only, so their types are known: no per-field checks
    # (this runs once per message for every reader).
    (n, kind, t, direction, source, conn, phase, protocol, host, ip, port, sni, tls_version,
     cipher, method, url, status, headers, body, body_len_wire, events, req_n, sdk, frames,
     meta, notes, links) = row
    return _decoded(
        f"m{n}", kind, t, direction, source, conn, phase, protocol, host, ip, port, sni,
        tls_version, cipher, method, url, status, headers, body, body_len_wire, events,
        None if req_n is None else f"m{req_n}",
        tuple(f"m{x}" for x in sorted(int(v) for v in links.split(","))) if links else (),
        sdk, frames, meta, notes, with_body)


def _decoded(mid: str, kind: str, t: float, direction: str, source: str, conn: str | None,
             phase: str | None, protocol: str | None, host: str | None, ip: str | None,
             port: int | None, sni: str | None, tls_version: str | None, cipher: str | None,
             method: str | None, url: str | None, status: int | None, headers: str,
             body: Any, body_len_wire: int | None, events: str, request_id: str | None,
             links: tuple[str, ...], sdk: str | None, frames: str, meta: str, notes: str,
             with_body: bool) -> Message:
    """A message from its column values as stored (JSON columns as text): the one decoding
    the reader and :meth:`StoreWriter.message` share. ``body`` is the body, or its length
    without ``with_body``."""
    meta_d: dict[str, JSON] = {} if meta == "{}" else _loads(meta)
    if not with_body:
        meta_d["body_len"] = body
        body = b""
    # positional (the field order, which tests/parse/test_store.py pins), once per message
    # for every reader
    return _new_message(
        mid, _KINDS[kind], t, direction, source, conn, phase, protocol, host, ip, port, sni,
        tls_version, cipher, method, url, status,
        tuple(map(tuple, _loads(headers))) if headers != "[]" else (), body, body_len_wire,
        _list(events), request_id, links, sdk, _list(frames), meta_d, _list(notes))

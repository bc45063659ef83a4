"""A message's row in ``analysis.sqlite`` and its :class:`Message`: the JSON text of the
JSON columns as the writer makes it (:class:`Dumps`), and the Message made of a row's values
(:func:`decoded`), which every reader and ``StoreWriter.message`` share. Both are the
reference of ``_store.c``, which writes the same text and makes the same Message faster.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.parse.message import Message, MessageKind
from harness.slots import maker

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON

ENCODER = json.JSONEncoder(separators=(",", ":"))


class Dumps:
    """``ENCODER.encode`` for one writer's columns, minus what it redoes per call: json's
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
            self._markers, ENCODER.default, json.encoder.encode_basestring_ascii, None,
            ENCODER.key_separator, ENCODER.item_separator, ENCODER.sort_keys,
            ENCODER.skipkeys, ENCODER.allow_nan)

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
        return ENCODER.encode(value)

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


VALUES = {k: k.value for k in MessageKind}
"""A kind's column text: one dict lookup, where ``.value`` is a property (enum's)."""
KINDS = {k.value: k for k in MessageKind}


_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__


def loads(text: str) -> Any:
    """JSON the writer made (compact, no surrounding space): json's C scanner straight,
    without decode()'s two whitespace matches (three of these a message, every reader)."""
    return _scan(text, 0)[0]


def _list(text: str) -> tuple[Any, ...]:
    return () if text == "[]" else tuple(loads(text))


new_message = maker(Message)
"""``Message(*values)``, positional and all of them, made faster (:mod:`harness.slots`)."""


def decoded(mid: str, kind: str, t: float, direction: str, source: str, conn: str | None,
             phase: str | None, protocol: str | None, host: str | None, ip: str | None,
             port: int | None, sni: str | None, tls_version: str | None, cipher: str | None,
             method: str | None, url: str | None, status: int | None, headers: str,
             body: Any, body_len_wire: int | None, events: str, request_id: str | None,
             links: tuple[str, ...], sdk: str | None, frames: str, meta: str, notes: str,
             with_body: bool) -> Message:
    """A message from its column values as stored (JSON columns as text): the one decoding
    the reader and :meth:`StoreWriter.message` share. ``body`` is the body, or without
    ``with_body`` its length (or a body that is not bytes, whose length is taken here)."""
    meta_d: dict[str, JSON] = {} if meta == "{}" else loads(meta)
    if not with_body:
        meta_d["body_len"] = body if type(body) is int else len(body)  # storeread._BODY_LEN
        body = b""
    # positional (the field order, which tests/parse/test_store.py pins), once per message
    # for every reader
    return new_message(
        mid, KINDS[kind], t, direction, source, conn, phase, protocol, host, ip, port, sni,
        tls_version, cipher, method, url, status,
        tuple(map(tuple, loads(headers))) if headers != "[]" else (), body, body_len_wire,
        _list(events), request_id, links, sdk, _list(frames), meta_d, _list(notes))


def chunked(mid: str, v: list[Any], t: float, facts: tuple[Any, ...], body: Any,
            request_id: str | None, links: tuple[str, ...], with_body: bool) -> Message:
    """A message from its values in a chunk (storeformat.CHUNK_FIELDS: the JSON columns
    decoded with the chunk's text), its t (the chunk's ``ts``) and its facts row's: what
    :func:`decoded` makes of the same values in a row of their own. ``body`` is the body, or
    without ``with_body`` its length."""
    (_first, kind, direction, _facts, phase, host, method, url, status, headers, _n,
     body_len_wire, events, _req, sdk, frames, meta, notes, _ref) = v
    source, conn, protocol, ip, port, sni, tls_version, cipher = facts
    if not with_body:
        meta["body_len"] = body if type(body) is int else len(body)
        body = b""
    return new_message(
        mid, KINDS[kind], t, direction, source, conn, phase, protocol, host, ip, port, sni,
        tls_version, cipher, method, url, status, tuple(map(tuple, headers)), body,
        body_len_wire, tuple(events), request_id, links, sdk, tuple(frames), meta,
        tuple(notes))

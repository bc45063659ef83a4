"""HTTP/2 over one connection (RFC 9113): frames and HPACK, each direction on its own.

A capture is a recording, not a peer: it must read what a client and a server said even
where a real endpoint would have refused it (partial capture, a stream opened before the
hooks, a protocol error). So this reads frames directly and keeps one HPACK decoding
context per direction (libnghttp2's inflater through ``_hpack``: the client's header blocks
and the server's have separate dynamic tables), instead of driving ``h2``'s state machines,
which reject such input. Handles padding, priority, CONTINUATION, trailers, RST_STREAM,
GOAWAY and server push; a malformed frame or header block becomes a note and the rest of
the bytes stay a RAW message.

The frames are read and the drafts made in C (``_hpack.read_frames``: h2frames.c,
h2stream.c, h2headers.c, and h1draft.c, shared with _http1.c), so that no Python runs per
frame, header or stream; ``h2ref._Direction`` is the same reading in Python,
kept as the reference the C one is checked against (tests/parse/test_h2_native.py) and
used with ``parse(native=False)``.
"""

from __future__ import annotations

from harness.parse import _hpack, grpc
from harness.parse.draft import Draft, raw
from harness.parse.encoding import DEFAULT_BUDGET
from harness.parse.http1 import finish_body
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_FRAME = 1 << 24
MAX_HEADER_BLOCK = 1 << 20
"""A header block (HEADERS + CONTINUATIONs) above 1 MiB is hostile: dropped with a note.
Its decoded header list (RFC 7541 4.1 sizes) has the same limit."""
MAX_TABLE_SIZE = 1 << 20
"""The largest dynamic table a sender may ask for. A peer allows what its SETTINGS said; a
capture does not follow SETTINGS, so this only bounds memory."""

DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20

ERROR_CODES = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
               4: "SETTINGS_TIMEOUT", 5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR",
               7: "REFUSED_STREAM", 8: "CANCEL", 9: "COMPRESSION_ERROR", 10: "CONNECT_ERROR",
               11: "ENHANCE_YOUR_CALM", 12: "INADEQUATE_SECURITY", 13: "HTTP_1_1_REQUIRED"}


def looks_like_frames(data: bytes) -> bool:
    """A server's first bytes: a SETTINGS frame on stream 0."""
    return len(data) >= 9 and data[3] == SETTINGS and data[5:9] == b"\0\0\0\0" and \
        int.from_bytes(data[:3], "big") % 6 == 0




_CODED, _TYPED = 1, 2
"""Flags of a draft ``_hpack.read_frames`` leaves pending: its headers name a content or
transfer coding it left undone (it undoes one gzip or deflate coding that decodes whole
itself, zinflate.c); they name a content type."""


def _read(flow: Flow, facts: ConnFacts, kind: MessageKind, budget: int,
          peers: dict[int, Draft], conn_notes: list[str], start: int) -> list[Draft]:
    """``h2ref._Direction(...).run(start)`` in C (``_hpack.read_frames``, h2frames.c): the
    frames, header blocks, stream state and drafts, and the common content coding; here
    only what needs Python, the other content codings and gRPC of the drafts it leaves
    pending (as _Direction._close)."""
    starts, seqs = flow.columns()
    done, pending, notes = _hpack.read_frames(flow, facts, kind, start, starts, seqs, peers,
                                              MAX_TABLE_SIZE, MAX_HEADER_BLOCK, budget)
    conn_notes += notes
    for d, named in pending:  # d.body is the body as sent
        if named & _CODED:
            finish_body(d, d.body, budget, flow.coded)
        if named & _TYPED and d.body and grpc.is_grpc(d):
            grpc.unframe(d, budget)
    return done


def _run(flow: Flow, facts: ConnFacts, kind: MessageKind, budget: int, peers: dict[int, Draft],
         conn_notes: list[str], start: int, native: bool) -> list[Draft]:
    if native:
        return _read(flow, facts, kind, budget, peers, conn_notes, start)
    from harness.parse.h2ref import _Direction  # the reference; it imports this module

    direction = _Direction(flow, facts, kind, budget, peers, conn_notes)
    direction.run(start)
    return direction.done


_hpack.setup(Draft, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW)
_REQUEST = MessageKind.REQUEST
"""Bound once: ``MessageKind.REQUEST`` goes through EnumType.__getattr__ (Python 3.11), ~700
instructions each time."""


def requests_by_stream(client: list[Draft]) -> dict[int, Draft]:
    """The client's requests by the stream their meta names (the last one for a stream
    named twice), which the server's responses answer. In C (``_hpack.by_stream``, ~500
    instructions a draft less) when every item is a Draft; :func:`requests_by_stream_py` is
    the reference (tests/parse/test_h2_by_stream.py), and what any other list gets."""
    requests: dict[int, Draft] = {}
    return requests if _hpack.by_stream(client, requests) else requests_by_stream_py(client)


def requests_by_stream_py(client: list[Draft]) -> dict[int, Draft]:
    requests: dict[int, Draft] = {}
    for d in client:
        if d.kind is _REQUEST:
            sid = d.meta.get("stream")
            if isinstance(sid, int):
                requests[sid] = d
    return requests


def parse(out_flow: Flow, in_flow: Flow, facts: ConnFacts, budget: int = DEFAULT_BUDGET,
          out_start: int = 0, in_start: int = 0, upgraded: Draft | None = None, *,
          native: bool = True) -> list[Draft]:
    """Requests from the client's flow, responses from the server's, matched by stream.
    After an HTTP/1.1 ``Upgrade: h2c`` the flows start at the offsets given, and stream 1
    answers the ``upgraded`` request (RFC 7540 3.2). ``native=False`` reads the frames with
    :class:`h2ref._Direction`, the reference the C reader is checked against."""
    notes: list[str] = []
    start = out_start
    if out_flow.data.startswith(PREFACE, out_start):
        start += len(PREFACE)
    elif len(out_flow.data) > out_start:
        notes.append("h2: client preface not captured; reading frames from the first byte")
    client = _run(out_flow, facts, MessageKind.REQUEST, budget, {}, notes, start, native)
    requests = requests_by_stream(client)
    if upgraded is not None:
        requests[1] = upgraded
    server = _run(in_flow, facts, MessageKind.RESPONSE, budget, requests, notes, in_start,
                  native)
    drafts = client + server
    if notes:
        target = drafts[0] if drafts else None
        if target is not None:
            target.meta["connection_notes"] = list(notes)
            target.notes += notes
        elif out_flow.data or in_flow.data:
            flow = out_flow if out_flow.data else in_flow
            drafts.append(raw(flow, 0, 0, facts, "; ".join(notes), "h2"))
    return drafts

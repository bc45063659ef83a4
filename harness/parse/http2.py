"""HTTP/2 over one connection (RFC 9113): frames and HPACK, each direction on its own.

A capture is a recording, not a peer: it must read what a client and a server said even
where a real endpoint would have refused it (partial capture, a stream opened before the
hooks, a protocol error). So this reads frames directly and keeps one HPACK decoding
context per direction (libnghttp2's inflater through ``_hpack``: the client's header blocks
and the server's have separate dynamic tables), instead of driving ``h2``'s state machines,
which reject such input. Handles padding, priority, CONTINUATION, trailers, RST_STREAM,
GOAWAY and server push; a malformed frame or header block becomes a note and the rest of
the bytes stay a RAW message.

The frames are read in C (``_hpack.read_frames``: h2frames.c, h2stream.c, h2headers.c), so
that no Python runs per frame or header; ``h2ref._Direction`` is the same reading in Python,
kept as the reference the C one is checked against (tests/parse/test_h2_native.py) and
used with ``parse(native=False)``.
"""

from __future__ import annotations

from harness.parse import _hpack, grpc
from harness.parse.draft import Draft, raw, truncated
from harness.parse.encoding import DEFAULT_BUDGET
from harness.parse.http1 import finish_body
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow
from harness.protocol import JSON

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
"""Flags of a record from ``_hpack.read_frames``: its headers name a content or transfer
coding; they name a content type."""


def _read(flow: Flow, facts: ConnFacts, kind: MessageKind, budget: int,
          peers: dict[int, Draft], conn_notes: list[str], start: int) -> list[Draft]:
    """``h2ref._Direction(...).run(start)`` with the frames, header blocks and stream state in C
    (``_hpack.read_frames``, h2frames.c): the same drafts, made here from its records with
    what needs Python (the other direction's drafts, content codings, gRPC)."""
    starts, seqs = flow.columns()
    records, notes = _hpack.read_frames(flow.data, start, starts, seqs, flow.direction,
                                        facts.scheme, facts.sni, facts.ip, MAX_TABLE_SIZE,
                                        MAX_HEADER_BLOCK)
    conn_notes += notes
    response = kind is MessageKind.RESPONSE
    done: list[Draft] = []
    for rec in records:
        if len(rec) == 3:
            done.append(raw(flow, rec[0], rec[1], facts, rec[2], "h2"))
            continue
        (pos, sid, st_notes, headers, status, method, host, url, interim, trailers, body,
         events, ended, pushed, named) = rec
        # from_flow(kind, flow, pos, pos + 9, facts, "h2") with all that is known of the
        # stream given at once: one Draft call per stream, not one per field
        t, seq, lost = flow.head(pos, pos + 9)
        meta: dict[str, JSON] = {"stream": sid}
        if interim is not None:
            meta["interim"] = interim
        if trailers is not None:
            meta["trailers"] = trailers
        d = Draft(kind=MessageKind.REQUEST if pushed else kind, t=t, direction=flow.direction,
                  source=facts.source, first_seq=seq, conn=facts.conn, protocol="h2",
                  host=host, ip=facts.ip, port=facts.port, sni=facts.sni,
                  tls_version=facts.tls_version, cipher=facts.cipher, method=method, url=url,
                  status=status, headers=[] if headers is None else headers, events=events,
                  meta=meta, notes=[truncated(lost)] if lost else [])
        if st_notes is not None:
            d.notes += st_notes
        # the rest is h2ref._Direction._close
        req = peers.get(sid) if response else None
        if req is not None:
            d.request = req
            d.url = url or req.url
            d.host = host or req.host
        elif response and sid % 2 == 1:
            d.notes.append("response without a captured request")
        if not ended:
            d.notes.append("stream not finished when the capture ended")
        if named & _CODED:
            finish_body(d, body, budget)
        else:  # what finish_body does without a content or transfer coding to undo
            d.body_len_wire = len(body)
            d.body = body
        if named & _TYPED and d.body and grpc.is_grpc(d):
            grpc.unframe(d, budget)
        done.append(d)
        if pushed:
            peers[sid] = d  # the pushed response on that stream answers it
    return done


def _run(flow: Flow, facts: ConnFacts, kind: MessageKind, budget: int, peers: dict[int, Draft],
         conn_notes: list[str], start: int, native: bool) -> list[Draft]:
    if native:
        return _read(flow, facts, kind, budget, peers, conn_notes, start)
    from harness.parse.h2ref import _Direction  # the reference; it imports this module

    direction = _Direction(flow, facts, kind, budget, peers, conn_notes)
    direction.run(start)
    return direction.done


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
    requests: dict[int, Draft] = {}
    for d in client:
        sid = d.meta.get("stream")
        if d.kind is MessageKind.REQUEST and isinstance(sid, int):
            requests[sid] = d
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

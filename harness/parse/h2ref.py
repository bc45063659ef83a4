"""The HTTP/2 reading of :mod:`harness.parse.http2` in Python: one direction's frames, header
blocks and stream state (:class:`_Direction`), with the frame-header checks and the resync
after damage. The C reader (``_hpack.read_frames``: h2frames.c, h2stream.c, h2headers.c) is
what runs; this is the reference it is checked against (tests/parse/test_h2_native.py),
used with ``http2.parse(native=False)``."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from harness.parse import _hpack, grpc
from harness.parse.draft import Draft, from_flow, raw, status_code
from harness.parse.http1 import finish_body
from harness.parse.http2 import (
    CONTINUATION,
    DATA,
    END_HEADERS,
    END_STREAM,
    ERROR_CODES,
    GOAWAY,
    HEADERS,
    MAX_HEADER_BLOCK,
    MAX_TABLE_SIZE,
    PADDED,
    PING,
    PRIORITY,
    PRIORITY_FLAG,
    PUSH_PROMISE,
    RST_STREAM,
    SETTINGS,
    WINDOW_UPDATE,
)
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow


@dataclass(slots=True)
class _Stream:
    draft: Draft
    body: list[bytes] = field(default_factory=list)
    seqs: set[int] = field(default_factory=set)
    """Events the stream's frames came from (gathered here: a tuple per frame is quadratic)."""
    size: int = 0
    ended: bool = False
    trailers: bool = False


@dataclass(slots=True)
class _Block:
    """A header block being collected across HEADERS/PUSH_PROMISE + CONTINUATION frames."""

    stream_id: int
    start: int
    parts: list[bytes]
    end_stream: bool
    promised: int | None = None
    size: int = 0


class _Direction:
    """Reads the frames of one direction; produces one draft per stream (and push)."""

    def __init__(self, flow: Flow, facts: ConnFacts, kind: MessageKind, budget: int,
                 peers: dict[int, Draft], conn_notes: list[str]) -> None:
        self.flow = flow
        self.facts = facts
        self.kind = kind
        self.budget = budget
        self.peers = peers
        """Drafts of the other direction by stream id (requests, for a response)."""
        self.conn_notes = conn_notes
        self.decoder = self._fresh_decoder()
        self.hpack_lost: str | None = None
        """Why the HPACK table was restarted, if it was (see :meth:`_lose_table`)."""
        self.streams: dict[int, _Stream] = {}
        self.done: list[Draft] = []
        self.block: _Block | None = None
        self.pushed: dict[int, Draft] = {}

    @staticmethod
    def _fresh_decoder() -> _hpack.Inflater:
        return _hpack.Inflater(MAX_TABLE_SIZE, MAX_HEADER_BLOCK)

    def _lose_table(self, why: str) -> None:
        """A header block was lost or broken, so the sender's table may hold entries ours
        lacks. Restart with an empty table: new entries go to the front of both tables, so
        every index ours still resolves names the same entry as the sender's, and a
        reference to an entry we never saw is out of range and fails loudly. Headers are
        thus either decoded right or reported undecodable, never decoded wrong."""
        self.hpack_lost = why[:200]
        self.decoder = self._fresh_decoder()

    def _decode(self, block: bytes, notes: list[str]) -> list[tuple[str, str]]:
        try:
            pairs = self.decoder.decode(block)
        except _hpack.HPACKError as exc:
            err = str(exc)[:200]
            if self.hpack_lost:
                notes.append(f"headers not decodable: they refer to HPACK entries lost"
                             f" earlier ({self.hpack_lost}); {err}")
            else:
                notes.append(f"malformed HPACK header block: {err}")
            self._lose_table(f"undecodable header block ({err})")
            return []
        out: list[tuple[str, str]] = []
        for name, value in pairs:
            n = name.decode("latin-1")
            try:
                v = value.decode("utf-8")
            except UnicodeDecodeError:
                notes.append(f"header {n[:40]!r} is not UTF-8; decoded as Latin-1")
                v = value.decode("latin-1")
            out.append((n, v))
        return out

    def _stream(self, sid: int, pos: int) -> _Stream:
        st = self.streams.get(sid)
        if st is None:
            d = from_flow(self.kind, self.flow, pos, pos + 9, self.facts, "h2")
            d.meta["stream"] = sid
            st = self.streams[sid] = _Stream(d)
        return st

    def _headers_done(self, b: _Block, end: int) -> None:
        st = self._stream(b.stream_id if b.promised is None else b.promised, b.start)
        d = st.draft
        headers = self._decode(b"".join(b.parts), d.notes)
        if b.promised is not None:
            d.notes.append(f"server push promised on stream {b.stream_id}")
            d.kind, d.direction = MessageKind.REQUEST, self.flow.direction
            self._apply(d, headers)
            st.ended = True
            self._close(b.promised)
            self.pushed[b.promised] = d
            self.peers[b.promised] = d  # the pushed response on that stream answers it
            return
        if not d.headers:
            self._apply(d, headers)
        elif d.status is not None and 100 <= d.status < 200:
            interim = d.meta.get("interim")
            d.meta["interim"] = [*interim, d.status] if isinstance(interim, list) else [d.status]
            self._apply(d, headers)
        else:
            st.trailers = True
            d.meta["trailers"] = [[k, v] for k, v in headers]  # trailing HEADERS
        st.seqs.update(self.flow.seqs(b.start, end))
        if b.end_stream:
            st.ended = True
            self._close(b.stream_id)

    def _apply(self, d: Draft, headers: list[tuple[str, str]]) -> None:
        d.headers = headers
        pseudo = {k: v for k, v in headers if k.startswith(":")}
        if ":status" in pseudo:
            d.status = status_code(pseudo[":status"])
            if d.status is None:
                d.notes.append(f"bad :status {pseudo[':status'][:40]!r}")
        if ":method" in pseudo:
            d.method = pseudo[":method"]
        authority = pseudo.get(":authority") or d.header("host")
        if authority:
            d.host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
        if ":path" in pseudo or authority:
            scheme = pseudo.get(":scheme", self.facts.scheme)
            d.url = f"{scheme}://{authority or self.facts.sni or self.facts.ip}" + \
                pseudo.get(":path", "")

    def _close(self, sid: int) -> None:
        st = self.streams.pop(sid, None)
        if st is None:
            return
        d = st.draft
        req = self.peers.get(sid)
        if self.kind is MessageKind.RESPONSE and req is not None:
            d.request = req
            d.url = d.url or req.url
            d.host = d.host or req.host
        elif self.kind is MessageKind.RESPONSE and sid % 2 == 1:
            d.notes.append("response without a captured request")
        if not st.ended:
            d.notes.append("stream not finished when the capture ended")
        d.events = tuple(sorted(st.seqs.union(d.events)))
        finish_body(d, b"".join(st.body), self.budget, self.flow.coded)
        if grpc.is_grpc(d) and d.body:
            grpc.unframe(d, self.budget)
        self.done.append(d)

    def run(self, start: int) -> None:
        data, pos = self.flow.data, start
        while pos < len(data):
            if len(data) - pos < 9:
                self.done.append(raw(self.flow, pos, len(data), self.facts,
                                     "h2: frame header cut (capture ended)", "h2"))
                break
            high, low, ftype, flags, sid = _FRAME_HEAD.unpack_from(data, pos)
            length = high << 16 | low
            sane = _sane_head(length, ftype, sid)
            sid &= 0x7FFFFFFF
            if not sane:
                nxt = _resync(data, pos + 1)
                what = (f"h2: malformed frame header (type {ftype}, stream {sid}, length"
                        f" {length})")
                if nxt is None:
                    self.done.append(raw(self.flow, pos, len(data), self.facts,
                                         f"{what}; rest kept raw", "h2"))
                    break
                self.done.append(raw(self.flow, pos, nxt, self.facts,
                                     f"{what}; kept raw up to the next plausible frame", "h2"))
                # frames were lost, and with them perhaps HPACK table updates
                self._lose_table(f"{nxt - pos} bytes of frames not understood")
                self.block = None
                pos = nxt
                continue
            end = pos + 9 + length
            payload = data[pos + 9 : end]
            if end > len(data):
                self.conn_notes.append(f"h2: last frame cut ({len(payload)} of {length} bytes)")
            if self.block is not None and ftype != CONTINUATION:
                st = self._stream(self.block.stream_id, self.block.start)
                st.draft.notes.append("h2: header block interrupted (no CONTINUATION)")
                self._lose_table("header block interrupted")
                self.block = None
            try:
                self._frame(ftype, flags, sid, payload, pos, end)
            except _Malformed as exc:
                if ftype in (HEADERS, PUSH_PROMISE, CONTINUATION):
                    # the sender's encoder may have changed its table in the block we lost
                    self._lose_table(f"malformed {exc} frame on stream {sid}")
                target = self.streams.get(sid)
                note = f"h2: malformed {exc} frame on stream {sid}"
                (target.draft.notes if target else self.conn_notes).append(note)
            pos = end
        for sid in list(self.streams):
            self._close(sid)

    def _frame(self, ftype: int, flags: int, sid: int, p: bytes, pos: int, end: int) -> None:
        if ftype in (DATA, HEADERS, PUSH_PROMISE) and flags & PADDED:
            if not p or p[0] >= len(p):
                raise _Malformed("padded")
            p = p[1 : len(p) - p[0]]
        if ftype == DATA:
            st = self._stream(sid, pos)
            if st.size + len(p) <= (1 << 31):
                st.body.append(p)
                st.size += len(p)
            st.seqs.update(self.flow.seqs(pos, end))
            if flags & END_STREAM:
                st.ended = True
                self._close(sid)
        elif ftype in (HEADERS, PUSH_PROMISE):
            promised = None
            if ftype == HEADERS and flags & PRIORITY_FLAG:
                if len(p) < 5:
                    raise _Malformed("HEADERS priority")
                p = p[5:]
            if ftype == PUSH_PROMISE:
                if len(p) < 4:
                    raise _Malformed("PUSH_PROMISE")
                promised, p = int.from_bytes(p[:4], "big") & 0x7FFFFFFF, p[4:]
            self.block = _Block(sid, pos, [p], bool(flags & END_STREAM), promised, len(p))
            if flags & END_HEADERS:
                done, self.block = self.block, None
                self._headers_done(done, end)
        elif ftype == CONTINUATION:
            b = self.block
            if b is None or b.stream_id != sid:
                self._lose_table("CONTINUATION without HEADERS")
                raise _Malformed("CONTINUATION (no header block open)")
            b.parts.append(p)
            b.size += len(p)
            if b.size > MAX_HEADER_BLOCK:
                self.block = None
                self._lose_table(f"header block over {MAX_HEADER_BLOCK} bytes")
                self._stream(sid, b.start).draft.notes.append(
                    f"h2: header block over {MAX_HEADER_BLOCK} bytes dropped")
            elif flags & END_HEADERS:
                self.block = None
                self._headers_done(b, end)
        elif ftype == RST_STREAM:
            code = int.from_bytes(p[:4], "big") if len(p) >= 4 else -1
            reset = self.streams.get(sid)
            if reset is not None:
                reset.draft.notes.append(
                    f"stream reset by sender ({ERROR_CODES.get(code, code)})")
                reset.ended = True
                self._close(sid)
        elif ftype == GOAWAY and len(p) >= 8:
            last = int.from_bytes(p[:4], "big") & 0x7FFFFFFF
            code = int.from_bytes(p[4:8], "big")
            self.conn_notes.append(f"GOAWAY from {self.flow.direction} side: last stream {last},"
                                   f" {ERROR_CODES.get(code, code)}"
                                   + (f", debug {p[8:200]!r}" if len(p) > 8 else ""))


class _Malformed(Exception):
    pass


_RESYNC_WINDOW = 256 * 1024
_FRAME_HEAD = struct.Struct(">BHBBI")
"""A frame header: length (high byte, low 16 bits), type, flags, stream id (with its
reserved bit): one unpack instead of four slices and conversions per frame."""


def _sane(data: bytes, pos: int) -> bool:
    """Could a frame header start at ``pos``? (Used to find frames again after damage or
    when the capture starts in the middle of a connection.)"""
    if len(data) - pos < 9:
        return False
    high, low, ftype, _flags, sid = _FRAME_HEAD.unpack_from(data, pos)
    return _sane_head(high << 16 | low, ftype, sid)


def _sane_head(length: int, ftype: int, sid: int) -> bool:
    """:func:`_sane` on a frame header's fields (``sid`` with its reserved bit)."""
    if ftype > 0x20 or length > (1 << 20) or sid & 0x80000000:
        return False
    if ftype in (DATA, HEADERS, CONTINUATION, PRIORITY, RST_STREAM, PUSH_PROMISE) and sid == 0:
        return False
    if ftype in (SETTINGS, PING, GOAWAY) and sid != 0:
        return False
    if (ftype == SETTINGS and length % 6) or (ftype == PING and length != 8):
        return False
    return not (ftype in (RST_STREAM, WINDOW_UPDATE) and length != 4)


_FLAGS = {DATA: 0x09, HEADERS: 0x2D, PRIORITY: 0, RST_STREAM: 0, SETTINGS: 0x01,
          PUSH_PROMISE: 0x0C, PING: 0x01, GOAWAY: 0, WINDOW_UPDATE: 0, CONTINUATION: 0x04}
"""Flags each frame type defines; real senders set no others, which makes a good test of
a guessed frame boundary (parsing proper ignores unknown flags, as RFC 9113 says)."""


def _likely(data: bytes, pos: int) -> bool:
    if not _sane(data, pos):
        return False
    ftype, flags = data[pos + 3], data[pos + 4]
    return ftype in _FLAGS and not flags & ~_FLAGS[ftype]


def _resync(data: bytes, start: int) -> int | None:
    """The first offset from which three frames in a row look right (or fewer that end
    exactly at the end of the data)."""
    for p in range(start, min(len(data), start + _RESYNC_WINDOW)):
        q, ok = p, 0
        while ok < 3 and q < len(data) and _likely(data, q):
            q += 9 + int.from_bytes(data[q : q + 3], "big")
            ok += 1
        if ok == 3 or (ok and q == len(data)):
            return p
    return None

"""WebSocket frames (RFC 6455) after an HTTP/1.1 ``101 Switching Protocols``.

Each data message (a first frame plus its continuations, so a value split across fragments
is joined as the receiver would) becomes one WS_FRAME message; control frames (close, ping,
pong) too, since a close reason or a ping payload can carry data. Client frames are masked
and are unmasked here; ``permessage-deflate`` payloads are inflated within the output
budget.
"""

from __future__ import annotations

import zlib

from harness.parse.draft import Draft, from_flow, raw
from harness.parse.encoding import DEFAULT_BUDGET
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow

OPCODES = {0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}


def _unmask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    # XOR with the 4-byte key repeated, done on big integers (fast for large payloads)
    n = len(payload)
    mask = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(mask, "little")).to_bytes(
        n, "little")


def deflate_params(extensions: str | None) -> tuple[bool, bool] | None:
    """``Sec-WebSocket-Extensions`` → (client_no_context_takeover, server_no_...) or None."""
    if not extensions or "permessage-deflate" not in extensions.lower():
        return None
    low = extensions.lower()
    return ("client_no_context_takeover" in low, "server_no_context_takeover" in low)


class _Inflater:
    def __init__(self, no_takeover: bool, budget: int) -> None:
        self.no_takeover = no_takeover
        self.budget = budget
        self.d = zlib.decompressobj(-zlib.MAX_WBITS)

    def inflate(self, data: bytes, notes: list[str]) -> bytes:
        if self.no_takeover:
            self.d = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out = self.d.decompress(data + b"\x00\x00\xff\xff", self.budget)
        except zlib.error as exc:
            notes.append(f"permessage-deflate: cannot inflate ({exc}); payload kept as sent")
            self.d = zlib.decompressobj(-zlib.MAX_WBITS)
            return data
        if self.d.unconsumed_tail:
            notes.append(f"permessage-deflate: output cut at the budget of {self.budget} bytes")
            self.d = zlib.decompressobj(-zlib.MAX_WBITS)  # context is lost past a cut
        return out


def parse_frames(flow: Flow, start: int, facts: ConnFacts, url: str | None,
                 host: str | None, deflate: bool = False, no_takeover: bool = False,
                 budget: int = DEFAULT_BUDGET) -> list[Draft]:
    data = flow.data
    pos = start
    out: list[Draft] = []
    pending: Draft | None = None
    parts: list[bytes] = []
    compressed = False
    inflater = _Inflater(no_takeover, budget) if deflate else None

    pending_seqs: set[int] = set()

    def close(d: Draft, payload: bytes, is_compressed: bool, fragmented: bool = True) -> None:
        if fragmented and pending_seqs:
            d.events = tuple(sorted(pending_seqs.union(d.events)))
            pending_seqs.clear()
        d.body_len_wire = len(payload)
        if is_compressed and inflater is not None:
            payload = inflater.inflate(payload, d.notes)
            d.meta["compressed"] = True
        d.body = payload
        out.append(d)

    while pos < len(data):
        if len(data) - pos < 2:
            out.append(raw(flow, pos, len(data), facts, "websocket: frame header cut"))
            break
        b0, b1 = data[pos], data[pos + 1]
        fin, rsv1, opcode = bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F
        masked, n = bool(b1 & 0x80), b1 & 0x7F
        hlen = 2
        if n == 126:
            n, hlen = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
        elif n == 127:
            n, hlen = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
        key = b""
        if masked:
            key = data[pos + hlen : pos + hlen + 4]
            hlen += 4
        if opcode not in OPCODES or pos + hlen > len(data):
            out.append(raw(flow, pos, len(data), facts,
                           f"websocket: bad frame (opcode {opcode}); rest kept raw"))
            break
        end = pos + hlen + n
        payload = data[pos + hlen : min(end, len(data))]
        if masked:
            payload = _unmask(payload, key)
        truncated = end > len(data)
        if opcode >= 8 or pending is None:
            d = from_flow(MessageKind.WS_FRAME, flow, pos, min(end, len(data)), facts,
                          "websocket")
            d.url, d.host = url, host
            d.meta["opcode"] = OPCODES[opcode]
            if opcode == 0:
                d.notes.append("continuation frame without a first frame")
        else:
            d = pending
            pending_seqs.update(flow.seqs(pos, min(end, len(data))))
        if truncated:
            d.notes.append(f"websocket: frame truncated ({len(payload)} of {n} bytes captured)")
        if opcode >= 8:
            close(d, payload, False, fragmented=False)  # control frames may interleave
        elif fin or truncated:
            parts.append(payload)
            close(d, b"".join(parts), rsv1 or (pending is not None and compressed))
            pending, parts = None, []
        else:
            if pending is None:
                compressed = rsv1
            pending = d
            parts.append(payload)
        pos = min(end, len(data))
    if pending is not None:
        pending.notes.append("websocket: message not finished when the capture ended")
        close(pending, b"".join(parts), compressed)
    return out

"""gRPC message framing (over HTTP/2, ``application/grpc``): each message is a 1-byte
compressed flag, a 4-byte big-endian length and the payload, compressed with the
``grpc-encoding`` when the flag is set. The body is replaced by the payloads one after the
other (protobuf messages concatenated still decode, as a merge), so detection sees the
protobuf and not the framing."""

from __future__ import annotations

from harness.parse.draft import Draft
from harness.parse.encoding import DEFAULT_BUDGET, decompress


def is_grpc(d: Draft) -> bool:
    ctype = (d.header("content-type") or "").lower()
    return ctype.startswith("application/grpc") and "grpc-web-text" not in ctype


def unframe(d: Draft, budget: int = DEFAULT_BUDGET) -> None:
    data = d.body
    pos = 0
    payloads: list[bytes] = []
    encoding = (d.header("grpc-encoding") or "identity").strip().lower()
    while pos + 5 <= len(data):
        flag, length = data[pos], int.from_bytes(data[pos + 1 : pos + 5], "big")
        payload = data[pos + 5 : pos + 5 + length]
        if flag not in (0, 1) or len(payload) < length:
            if len(payload) < length and flag in (0, 1):
                d.notes.append(f"grpc: message cut ({len(payload)} of {length} bytes)")
            else:
                d.notes.append(f"grpc: bad frame flag {flag}; body kept as sent")
                return
        if flag == 1:
            res = decompress(payload, encoding, budget)
            d.notes += list(res.notes)
            payload = res.data
        payloads.append(payload)
        pos += 5 + length
    if pos < len(data):
        d.notes.append(f"grpc: {len(data) - pos} trailing bytes not framed")
        payloads.append(data[pos:])
    d.meta["grpc_messages"] = len(payloads)
    d.body = b"".join(payloads)

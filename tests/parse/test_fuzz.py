"""Mutated real conversations (bytes flipped, cut, inserted, truncated) never crash the
parsers: each case ends as messages, with notes where they could not make sense of it."""

from __future__ import annotations

import random

from harness.parse.connection import parse_connection
from harness.parse.reassembly import Chunk, ConnFacts, Flow

H1_OUT = (b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
          b"Content-Encoding: gzip\r\n\r\n5\r\n\x1f\x8b\x08\x00\x00\r\n0\r\n\r\n"
          b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n"
          b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58")
H1_IN = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
         b"HTTP/1.1 101 Switching\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
         b"\xc1\x05abcde")


def _flow(direction: str, data: bytes) -> Flow:
    return Flow(direction, data, [Chunk(0, len(data), 1, 1.0)], [0])


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        if op < 0.4 and b:
            b[rng.randrange(len(b))] = rng.randrange(256)
        elif op < 0.6 and b:
            del b[rng.randrange(len(b)) : rng.randrange(len(b) + 1)]
        elif op < 0.8:
            b[rng.randrange(len(b) + 1) : 0] = rng.randbytes(rng.randint(1, 20))
        else:
            b = b[: rng.randrange(len(b) + 1)]
    return bytes(b)


def test_mutations_never_crash(h2_conversation: list[tuple[str, bytes]]) -> None:
    h2_out = b"".join(b for d, b in h2_conversation if d == "out")
    h2_in = b"".join(b for d, b in h2_conversation if d == "in")
    rng = random.Random(20201)
    facts = ConnFacts("c", "native.tls", "tls")
    noted = 0
    for i in range(1500):
        out, inn = (h2_out, h2_in) if i % 2 else (H1_OUT, H1_IN)
        drafts = parse_connection(_flow("out", _mutate(rng, out)), _flow("in", _mutate(rng, inn)),
                                  facts)
        assert all(isinstance(d.body, bytes) for d in drafts)
        noted += any(d.notes for d in drafts)
    assert noted > 500  # the damage is reported, not silently absorbed

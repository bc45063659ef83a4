"""The events an HTTP/2 draft came from (h2events.c) where the flow's chunks do not carry
increasing seqs: the C reader takes the chunks' own ints when a stream's chunks come in
increasing seqs, and sorts values otherwise; both against h2ref's reading (Flow.seqs)."""

from __future__ import annotations

import hpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.parse import http2
from harness.parse.reassembly import Chunk, ConnFacts, Flow
from tests.parse.test_h2_native import _both, frame

FACTS = ConnFacts("c", "native.tls", "tls", "10.0.0.2", 443, "sni.test")


def _client() -> bytes:
    enc = hpack.Encoder()
    out = http2.PREFACE + frame(4, 0, 0, b"")
    for sid in (1, 3):
        block = enc.encode([(":method", "POST"), (":path", f"/p{sid}"), (":scheme", "https"),
                            (":authority", "a.test"), ("x-long", "v" * 40)])
        out += frame(1, 0, sid, block[:10]) + frame(9, 4, sid, block[10:])  # CONTINUATION
        out += frame(0, 0, sid, b"a" * 30) + frame(0, 1, sid, b"b" * 7)
    return out


def _flow(data: bytes, size: int, seqs: list[int]) -> Flow:
    starts = list(range(0, len(data), size))
    chunks = [Chunk(s, min(size, len(data) - s), seqs[i % len(seqs)], 100.0 + i, 0)
              for i, s in enumerate(starts)]
    return Flow("out", data, chunks, starts, False)


@pytest.mark.parametrize("seqs", [[7], [3, 3, 4], [9, 8, 7, 6], [1, 5, 5, 2], [2, 1]])
@pytest.mark.parametrize("size", [3, 9, 11, 40])
def test_seqs_repeated_or_going_back(seqs: list[int], size: int) -> None:
    data = _client()
    drafts = _both(_flow(data, size, seqs), Flow("in", b""), FACTS)
    assert [d.events for d in drafts if d.events]  # some events read


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.lists(st.integers(0, 6), min_size=1, max_size=12))
def test_any_seqs(size: int, seqs: list[int]) -> None:
    _both(_flow(_client(), size, seqs), Flow("in", b""), FACTS)

"""Bodies found in their flows (``bodyref.find``, and storeref.c in the C writer): what is
found is the body, byte for byte; what is not stays bytes; and the C writer finds the same
references as its reference, row for row (bench/storediff.py's rows)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.storediff import rows as store_rows
from bench.storediff import stored
from harness.parse import bodyref, store
from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import Flow


def _flow(direction: str, chunks: list[bytes], seqs: list[int]) -> Flow:
    starts, at = [], 0
    for c in chunks:
        starts.append(at)
        at += len(c)
    return Flow._columns(direction, b"".join(chunks), starts, seqs, [1.0] * len(seqs), None)


def _resolve(ref: bytes, chunks: list[bytes], seqs: list[int]) -> bytes:
    by_seq = dict(zip(seqs, chunks, strict=True))
    return b"".join(by_seq[s][o:o + n] for s, o, n in bodyref.spans(ref))


def _find(chunks: list[bytes], seqs: list[int], events: tuple[int, ...],
          body: bytes) -> bytes | None:
    f = _flow("out", chunks, seqs)
    cols = bodyref.columns(f.data, *f.columns())
    assert cols is not None
    return bodyref.find(*cols, events, body)


BODY = bytes(range(200)) * 3


def test_an_identity_body_across_three_events_is_one_stretch_of_each() -> None:
    chunks = [b"POST / HTTP/1.1\r\nContent-Length: 600\r\n\r\n" + BODY[:100], BODY[100:450],
              BODY[450:]]
    ref = _find(chunks, [3, 5, 9], (3, 5, 9), BODY)
    assert ref is not None
    assert [(s, n) for s, _o, n in bodyref.spans(ref)] == [(3, 100), (5, 350), (9, 150)]
    assert _resolve(ref, chunks, [3, 5, 9]) == BODY


def test_frames_with_headers_and_padding_between_them_are_a_stretch_each() -> None:
    parts = [BODY[:250], BODY[250:251 + 100], BODY[351:]]
    wire = b"".join(b"\x00\x01\x02HDR" + p + b"\x00" * 7 for p in parts)
    ref = _find([wire], [1], (1,), BODY)
    assert ref is not None
    assert len(bodyref.spans(ref)) == 3
    assert _resolve(ref, [wire], [1]) == BODY


@pytest.mark.parametrize(("why", "body", "events"), [
    ("short", BODY[:bodyref.MIN_REF - 1], (1, 2)),
    ("not in the flow", bytes(reversed(BODY)), (1, 2)),
    ("an event not in the flow", BODY, (1, 7)),
    ("events the other way round", BODY, (2, 1)),
    ("no events", BODY, ()),
    ("not bytes", bytearray(BODY), (1, 2)),
    ("a seq that is not an int", BODY, (1, 2.0)),
])
def test_what_stays_bytes(why: str, body: bytes, events: tuple[int, ...]) -> None:
    chunks = [b"x" * 10 + BODY[:300], BODY[300:]]
    assert _find(chunks, [1, 2], events, body) is None, why


def test_a_body_outside_its_events_is_not_looked_for_there() -> None:
    chunks = [BODY, b"other message"]
    assert _find(chunks, [1, 2], (2,), BODY) is None
    assert _find(chunks, [1, 2], (1, 2), BODY) is not None


def test_a_body_in_too_many_pieces_stays_bytes() -> None:
    # every 8 bytes of the body apart: 1 + len // 64 pieces at most
    body = BODY[:256]
    wire = b"".join(body[i:i + 8] + b"\xff\xfe" for i in range(0, len(body), 8))
    assert _find([wire], [1], (1,), body) is None
    wire = b"".join(body[i:i + 64] + b"\xff\xfe" for i in range(0, len(body), 64))
    assert _find([wire], [1], (1,), body) is not None


def test_columns_refuse_what_reassembly_never_makes() -> None:
    assert bodyref.columns(b"ab", [0, 1], [1, 2]) is not None
    assert bodyref.columns(bytearray(b"ab"), [0, 1], [1, 2]) is None
    assert bodyref.columns(b"ab", [0, 1], [1]) is None
    assert bodyref.columns(b"ab", [1, 1], [1, 2]) is None
    assert bodyref.columns(b"ab", [0, 3], [1, 2]) is None
    assert bodyref.columns(b"ab", [1, 0], [1, 2]) is None
    assert bodyref.columns(b"ab", [0, 1], [1, 2**63]) is None
    assert bodyref.columns(b"ab", [0, True], [1, 2]) is None


def test_empty_events_are_skipped_between_stretches() -> None:
    chunks = [BODY[:100], b"", b"", BODY[100:]]
    ref = _find(chunks, [1, 2, 3, 4], (1, 4), BODY)
    assert ref is not None
    assert [s for s, _o, _n in bodyref.spans(ref)] == [1, 4]


# --- the C writer against its reference ---------------------------------------------------

_alphabet = st.sampled_from([b"a", b"b", b"\x00", b"\r\n", b"xyz" * 10, b"0123456789abcdef",
                             b"q" * 17])


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[bytes], list[int], list[Draft]]:
    """A flow of a few events over a small alphabet (so a probe is found in many places)
    and drafts whose bodies are pieces of it, with bytes between them or not."""
    chunks = draw(st.lists(st.lists(_alphabet, min_size=2, max_size=60).map(b"".join),
                           min_size=1,
                           max_size=6))
    gaps = draw(st.lists(st.integers(1, 3), min_size=len(chunks), max_size=len(chunks)))
    seqs = [sum(gaps[:i + 1]) for i in range(len(chunks))]
    starts = [sum(map(len, chunks[:i])) for i in range(len(chunks))]
    data = b"".join(chunks)
    drafts = []
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(seqs) - 1))
        j = draw(st.integers(i, len(seqs) - 1))
        events = tuple(seqs[i:j + 1]) if draw(st.integers(0, 9)) else (seqs[j], seqs[i])
        # pieces of the events' bytes, in order, mostly: bytes the flow may not hold
        # between them, now and then a piece from anywhere
        lo, hi = starts[i], starts[j + 1] if j + 1 < len(chunks) else len(data)
        pieces, at = [], lo
        for _ in range(draw(st.integers(1, 5))):
            at = min(hi, at + draw(st.integers(0, 12)))
            end = min(hi, at + draw(st.integers(0, 150)))
            pieces.append(data[at:end])
            at = end
            if draw(st.integers(0, 3)) == 0:
                pieces.append(draw(_alphabet))
            if draw(st.integers(0, 9)) == 0:
                a = draw(st.integers(0, len(data)))
                pieces.append(data[a:draw(st.integers(a, len(data)))])
        body = b"".join(pieces)
        drafts.append(Draft(kind=MessageKind.REQUEST, t=1.0,
                            direction=draw(st.sampled_from(["out", "in", "up"])),
                            source="native.tls", first_seq=events[0], body=body,
                            body_len_wire=len(body), events=events))
    return chunks, seqs, drafts


def _write(path: Path, chunks: list[bytes], seqs: list[int], drafts: list[Draft],
           compiled: bool) -> list[bytes]:
    """The store written; the body each draft's row holds or names (through the flow)."""
    path.parent.mkdir()
    with store.StoreWriter(path, compiled=compiled) as w:
        w.use_flows({"out": _flow("out", chunks, seqs), "in": _flow("in", chunks[::-1],
                                                                      seqs)})
        for d in drafts:
            w.add(d)
            assert w.message().body is d.body
        w.use_flows(None)
        w.finish({})
    db = sqlite3.connect(path)
    got = []
    for body, ref, direction in ((v[12], v[20], v[4]) for v in stored(db)):
        if ref is None:
            got.append(body)
        else:
            flow = chunks if direction == "out" else chunks[::-1]
            got.append(_resolve(ref, flow, seqs))
            assert body == len(got[-1])
    db.close()
    return got


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_the_c_writer_finds_what_its_reference_finds(
        tmp_path_factory: pytest.TempPathFactory,
        case: tuple[list[bytes], list[int], list[Draft]]) -> None:
    chunks, seqs, drafts = case
    d = tmp_path_factory.mktemp("ref")
    a, b = d / "py" / store.ANALYSIS_DB, d / "c" / store.ANALYSIS_DB
    want = [x.body for x in drafts]
    assert _write(a, chunks, seqs, drafts, False) == want
    assert _write(b, chunks, seqs, drafts, True) == want
    assert list(store_rows(str(b))) == list(store_rows(str(a)))
    assert not any(p.name.endswith(".tmp") for p in d.rglob("*"))

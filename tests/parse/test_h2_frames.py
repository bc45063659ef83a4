"""HTTP/2 frame headers read with one struct unpack (h2ref._FRAME_HEAD, _sane_head) against
the byte-by-byte reading they replaced, on any bytes at any offset, frames or not."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from harness.parse import h2ref, http2
from harness.parse.message import MessageKind
from harness.parse.reassembly import Chunk, ConnFacts, Flow


def _ref_sane(data: bytes, pos: int) -> bool:
    """_sane as it was, slicing and converting each field."""
    if len(data) - pos < 9:
        return False
    length = int.from_bytes(data[pos : pos + 3], "big")
    ftype = data[pos + 3]
    sid = int.from_bytes(data[pos + 5 : pos + 9], "big")
    if ftype > 0x20 or length > (1 << 20) or sid & 0x80000000:
        return False
    if ftype in (http2.DATA, http2.HEADERS, http2.CONTINUATION, http2.PRIORITY,
                 http2.RST_STREAM, http2.PUSH_PROMISE) and sid == 0:
        return False
    if ftype in (http2.SETTINGS, http2.PING, http2.GOAWAY) and sid != 0:
        return False
    if (ftype == http2.SETTINGS and length % 6) or (ftype == http2.PING and length != 8):
        return False
    return not (ftype in (http2.RST_STREAM, http2.WINDOW_UPDATE) and length != 4)


# frame-like headers (small lengths, the types there are, stream 0 or not, reserved bit)
heads = st.builds(lambda n, t, f, s: n.to_bytes(3, "big") + bytes([t, f]) + s.to_bytes(4, "big"),
                  st.sampled_from([0, 4, 5, 6, 8, 12, 1 << 20, (1 << 20) + 1, (1 << 24) - 1]),
                  st.integers(0, 0x22), st.integers(0, 255),
                  st.sampled_from([0, 1, 3, 0x7FFFFFFF, 0x80000000, 0x80000001]))


@given(st.lists(heads | st.binary(max_size=12), max_size=4).map(b"".join), st.integers(0, 40))
@example(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00", 0)
@example(b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + b"p" * 8, 0)
@example(b"\xff\xff\xff\x00\x01\x80\x00\x00\x01", 0)
def test_frame_header_read_as_before(data: bytes, pos: int) -> None:
    assert h2ref._sane(data, pos) == _ref_sane(data, pos)
    if len(data) - pos >= 9:
        high, low, ftype, flags, sid = h2ref._FRAME_HEAD.unpack_from(data, pos)
        assert (high << 16 | low, ftype, flags, sid & 0x7FFFFFFF) == (
            int.from_bytes(data[pos : pos + 3], "big"), data[pos + 3], data[pos + 4],
            int.from_bytes(data[pos + 5 : pos + 9], "big") & 0x7FFFFFFF)
        assert h2ref._sane_head(high << 16 | low, ftype, sid) == _ref_sane(data, pos)


def _frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + sid.to_bytes(4, "big") \
        + payload


def test_reserved_bit_frame_kept_raw_and_named_by_its_stream() -> None:
    """A frame whose stream id has the reserved bit set is not a frame (kept raw); the note
    names the stream without that bit; the frames after it are read again."""
    headers = _frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 3,
                     b"\x82\x86\x84\x41\x01h")  # GET, http, /, :authority h
    data = (http2.PREFACE + _frame(http2.HEADERS, http2.END_HEADERS, 0x80000001, b"\x82")
            + _frame(http2.SETTINGS, 0, 0, b"") + headers + _frame(http2.PING, 0, 0, b"p" * 8)
            + _frame(http2.SETTINGS, 1, 0, b""))
    flow = Flow("out", data, [Chunk(0, len(data), 1, 1.0)], [0])
    drafts = http2.parse(flow, Flow("in"), ConnFacts("c", "native.tls", "tls"))
    notes = [n for d in drafts for n in d.notes]
    assert any(n.startswith("h2: malformed frame header (type 1, stream 1, length 1)")
               for n in notes), notes
    (req,) = [d for d in drafts if d.kind is MessageKind.REQUEST]
    assert (req.method, req.url, req.meta["stream"]) == ("GET", "http://h/", 3)

"""HPACK decoding through libnghttp2 (harness/parse/_hpack.c) against the pure-Python hpack
package it replaced. On generated sequences of header blocks on one connection (dynamic
table entries carried from block to block, Huffman on and off, table-size updates), on
damaged copies of them and on random blocks, both decode the same fields or both refuse,
and both start afresh after a refusal, as h2ref._Direction._lose_table does. Where the
libraries disagree on what is malformed ours refuses; each such case is a test below:

- a string literal over 65536 octets (libnghttp2's limit; hpack has none).

Checked and alike (RFC 7541): Huffman padding over 7 bits or not all ones, and the EOS
symbol, refused (5.2); a table-size update after a field, or over the 1 MiB we allow,
refused, and any number of them before the first field taken (4.2, 6.3); index 0 and
indexes past the table refused (2.3.3); integers of more than the prefix and 5 octets
refused, and larger values refused where they are used (5.1); the header list limit.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import hpack
import pytest
from hpack.exceptions import HPACKError
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.parse import _hpack
from harness.parse.http2 import MAX_HEADER_BLOCK, MAX_TABLE_SIZE, PREFACE
from harness.parse.message import MessageKind
from harness.parse.storeread import MessageStore
from tests.parse.wire import run_from_bytes

MAX_STRING = 65536
Fields = list[tuple[bytes, bytes]]


def _int(block: bytes, pos: int, prefix: int) -> tuple[int, int]:
    mask = (1 << prefix) - 1
    n, pos = block[pos] & mask, pos + 1
    if n == mask:
        shift = 0
        while True:
            b, pos = block[pos], pos + 1
            n += (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n, pos
    return n, pos


def _lengths(block: bytes) -> Iterator[tuple[str, int]]:
    """The table sizes ("size") and string lengths ("string") a block holds; the block is
    one hpack decoded or encoded, so whole."""
    pos = 0
    while pos < len(block):
        b = block[pos]
        if b & 0x80 or b & 0xE0 == 0x20:
            n, pos = _int(block, pos, 7 if b & 0x80 else 5)
            if not b & 0x80:
                yield "size", n
            continue
        index, pos = _int(block, pos, 6 if b & 0x40 else 4)
        for _ in range(1 if index else 2):
            n, pos = _int(block, pos, 7)
            yield "string", n
            pos += n


def reference(decoder: hpack.Decoder, block: bytes) -> Fields | None:
    """What hpack decodes, None where it refuses, and where ours refuses by design (the
    differences in the module docstring)."""
    try:
        fields = [(bytes(n), bytes(v)) for n, v in decoder.decode(block, raw=True)]
    except (HPACKError, IndexError, ValueError, UnicodeDecodeError):
        return None
    if any(what == "string" and n > MAX_STRING for what, n in _lengths(block)):
        return None
    return fields


class Connection:
    """One direction of a connection, decoded by both; both restart after a refusal."""

    def __init__(self) -> None:
        self.refused = 0
        self._fresh()

    def _fresh(self) -> None:
        self.ours = _hpack.Inflater(MAX_TABLE_SIZE, MAX_HEADER_BLOCK)
        self.ref = hpack.Decoder(max_header_list_size=MAX_HEADER_BLOCK)
        self.ref.max_allowed_table_size = MAX_TABLE_SIZE

    def decode(self, block: bytes) -> Fields | None:
        why = ""
        try:
            ours: Fields | None = self.ours.decode(block)
        except _hpack.HPACKError as exc:
            ours, why = None, str(exc)
        ref = reference(self.ref, block)
        assert ours == ref, (block[:200], why)
        assert ours is not None or why
        if ours is None:
            self.refused += 1
            self._fresh()
        return ours


# header fields as an app sends them: names and values that repeat (so the dynamic table
# is used), and some that do not; never-indexed ones; now and then a big one (evictions,
# and one over libnghttp2's string limit), given as its length to keep examples short
names = st.sampled_from([b":method", b":path", b":authority", b"cookie", b"user-agent",
                         b"x-id", b"accept", b"content-type", b"", b"x-" + b"n" * 40]) \
    | st.binary(min_size=1, max_size=12)
values = st.sampled_from([b"GET", b"/", b"a.test", b"sid=1234567890", b"", b"\xff\xfe\x00",
                          b"application/json", "кот".encode()]) \
    | st.binary(max_size=40) | st.sampled_from([3000, 5000, 70_000])
fields = st.lists(st.tuples(names, values, st.booleans()), max_size=12)
table_sizes = st.sampled_from([0, 1, 64, 4096, 8192, 65536, MAX_TABLE_SIZE, MAX_TABLE_SIZE + 1])
Step = tuple[list[tuple[bytes, bytes | int, bool]], bool, list[int]]
steps = st.lists(st.tuples(fields, st.booleans(), st.lists(table_sizes, max_size=2)),
                 min_size=1, max_size=8)


def _value(v: bytes | int) -> bytes:
    return v if isinstance(v, bytes) else b"v" * v


def _fields(step: Step) -> list[tuple[bytes, bytes, bool]]:
    return [(n, _value(v), s) for n, v, s in step[0]]


def encode(seq: list[Step]) -> list[bytes]:
    enc = hpack.Encoder()
    blocks = []
    for step in seq:
        for size in step[2]:
            if size != enc.header_table_size:  # hpack.Encoder drops an update set twice
                enc.header_table_size = size
        fs = _fields(step)
        # hpack's Huffman coder is quadratic in the string's length: big ones go as they are
        huffman = step[1] and all(len(v) < 10_000 for _n, v, _s in fs)
        blocks.append(enc.encode(fs, huffman=huffman))
    return blocks


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps)
def test_encoded_sequences_decode_alike(seq: list[Step]) -> None:
    conn = Connection()
    for block, step in zip(encode(seq), seq, strict=True):
        got = conn.decode(block)
        fs = _fields(step)
        if got is not None:
            assert got == [(n, v) for n, v, _s in fs]
        elif conn.refused == 1:  # the first refusal has a reason; later ones may follow it
            assert any(n > {"size": MAX_TABLE_SIZE, "string": MAX_STRING}[what]
                       for what, n in _lengths(block))


def _mutate(block: bytes, how: int, at: int, junk: bytes) -> bytes:
    at = at % (len(block) + 1)
    if how == 0:
        return block[:at]  # cut
    if how == 1 and at < len(block):
        return block[:at] + bytes([block[at] ^ (junk[0] if junk else 0x80)]) + block[at + 1:]
    if how == 2:
        return block[:at] + junk + block[at:]
    if how == 3:
        return block[:at] + block[at + len(junk) + 1:]
    return block + block[: len(junk)]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps, st.lists(st.tuples(st.integers(0, 200), st.integers(0, 4), st.integers(0, 10**6),
                                 st.binary(max_size=6)), max_size=4))
def test_damaged_sequences_decode_alike(
        seq: list[Step], damage: list[tuple[int, int, int, bytes]]) -> None:
    blocks = encode(seq)
    for which, how, at, junk in damage:
        i = which % len(blocks)
        blocks[i] = _mutate(blocks[i], how, at, junk)
    conn = Connection()
    for block in blocks:
        conn.decode(block)


# representations written by hand, beyond what hpack.Encoder writes: literals without
# indexing, any index, integers padded with continuation octets, Huffman strings with
# bad padding or made of random octets, table-size updates anywhere, strings near the limit
def _enc_int(n: int, prefix: int, flags: int, pad: int) -> bytes:
    """RFC 7541 5.1, with pad redundant continuation octets (value 0) when n needs any."""
    mask = (1 << prefix) - 1
    if n < mask:
        return bytes([flags | n])
    out, n = bytearray([flags | mask]), n - mask
    while n >= 128:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    if pad:
        out += bytes([n | 0x80]) + b"\x80" * (pad - 1) + b"\x00"
    else:
        out.append(n)
    return bytes(out)


def _huffman(data: bytes) -> bytes:
    """RFC 7541 5.2 (hpack's coder is quadratic in the length, and strings here are long)."""
    acc = bits = 0
    out = bytearray()
    for b in data:
        acc = (acc << REQUEST_CODES_LENGTH[b]) | REQUEST_CODES[b]
        bits += REQUEST_CODES_LENGTH[b]
        while bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
        acc &= (1 << bits) - 1
    if bits:
        out.append(((acc << (8 - bits)) | ((1 << (8 - bits)) - 1)) & 0xFF)
    return bytes(out)


def _enc_str(data: bytes, mode: int, pad: int) -> bytes:
    if mode == 0:
        return _enc_int(len(data), 7, 0, pad) + data
    if mode == 1:  # Huffman
        h = _huffman(data)
    elif mode == 2:  # Huffman with 8 or more bits of padding
        h = _huffman(data) + b"\xff"
    elif mode == 3:  # Huffman with a zero bit in the padding (when there is padding)
        h = _huffman(data)
        h = h[:-1] + bytes([h[-1] & 0xFE]) if h else h
    else:  # random octets marked Huffman (EOS, bad padding, or fine)
        h = data
    return _enc_int(len(h), 7, 0x80, pad) + h


def _literal(flags: int, index: int, name: bytes, value: bytes) -> bytes:
    """A literal field; a name index of 0 means a new name (RFC 7541 6.2)."""
    if index == 0:
        return bytes([flags]) + name + value
    return _enc_int(index, 6 if flags == 0x40 else 4, flags, 0) + value


pads = st.sampled_from([0, 0, 0, 1, 4, 5])
ints = st.integers(0, 70) | st.integers(0, 2**33)
short = st.binary(max_size=20)
strs = st.builds(_enc_str, short | short | short | st.sampled_from(
    [b"x" * MAX_STRING, b"x" * (MAX_STRING + 1)]), st.integers(0, 4), pads)
reps = st.one_of(
    st.builds(_enc_int, ints, st.just(7), st.just(0x80), pads),  # indexed field
    st.builds(_enc_int, st.sampled_from([0, 100, 4096, MAX_TABLE_SIZE, MAX_TABLE_SIZE + 1,
                                         2**32]), st.just(5), st.just(0x20), pads),  # update
    st.builds(_literal, st.sampled_from([0x40, 0x00, 0x10]), st.integers(0, 3) | ints, strs,
              strs),
)
A = _enc_str(b"a", 0, 0)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(reps, max_size=6).map(b"".join), min_size=1, max_size=5))
@example([b"\x82\x3f\x45"])  # an update after a field
@example([b"\x3f\x45\x3f\xe1\x1f\x82"])  # two updates at the start
@example([b"\xff\x80\x80\x80\x80\x80\x00", b"\xff\x80\x80\x80\x80\x00"])  # 6, then 5 octets
@example([_literal(0x40, 0, A, A) + b"\xbe", b"\xbe"])  # an entry used in a later block
@example([_literal(0x00, 1, A, _enc_str(b"x" * (MAX_STRING + 1), 0, 0))])
@example([_literal(0x10, 0, _enc_str(b"", 1, 0), _enc_str(b"", 1, 0))])  # empty Huffman
def test_written_blocks_decode_alike(blocks: list[bytes]) -> None:
    conn = Connection()
    for block in blocks:
        conn.decode(block)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=4))
def test_random_octets_decode_alike(blocks: list[bytes]) -> None:
    conn = Connection()
    for block in blocks:
        conn.decode(block)


def test_the_generated_cases_reach_both_outcomes() -> None:
    """Not a test that passes by refusing everything: valid blocks decode, and the limit on
    the header list is where hpack has it (32 octets per field, RFC 7541 4.1)."""
    enc = hpack.Encoder()
    conn = Connection()
    first = enc.encode([(b":method", b"GET"), (b"cookie", b"sid=1")])
    assert conn.decode(first) == [(b":method", b"GET"), (b"cookie", b"sid=1")]
    assert conn.decode(enc.encode([(b"cookie", b"sid=1")])) == [(b"cookie", b"sid=1")]
    # one 4096-octet entry (32 + 1 + 4063), then references to it: 256 fields are 1 MiB
    entry = b"\x40\x01a" + _enc_int(4063, 7, 0, 0) + b"v" * 4063
    for n, ok in ((255, True), (256, False)):
        got = Connection().decode(entry + b"\xbe" * n)
        assert (got is not None) == ok
        assert got is None or len(got) == n + 1


@pytest.mark.parametrize(("block", "why"), [
    (b"\xff\xff\xff\xff\x0f", "index 33554558 at byte 0 is not in the table (1 to 61)"),
    (b"\x82\x80", "index 0 at byte 1 is not in the table"),
    (b"\x82\xbe", "index 62 at byte 1 is not in the table (1 to 61)"),
    (b"\x42\x00\xc0", "index 64 at byte 2 is not in the table (1 to 62)"),
    (b"\x82\x3f\xe1\x1f", "dynamic table size update at byte 1 after a header field"),
    (_enc_int(MAX_TABLE_SIZE + 1, 5, 0x20, 0), "update at byte 0 to 1048577, over the 1048576"),
    (b"\x82\x40\x05ab", "cut short: it ends inside the field at byte 1"),
    (b"\x82\x41", "cut short: it ends inside the field at byte 1"),
    (b"\x82\xff", "cut short: it ends inside the field at byte 1"),
    (b"\x40\x7f\xff\xff\x03", "string of 65662 octets at byte 1, over the 65536 allowed"),
    (b"\x40\x81\x00\x00", "invalid Huffman string in the field at byte 0"),
    (b"\x40\x00\x81\xfe", "invalid Huffman string in the field at byte 0"),
    (b"\x40\x00\x84\xff\xff\xff\xff", "invalid Huffman string in the field at byte 0"),  # EOS
    (b"\xff\x80\x80\x80\x80\x80\x00", "integer in the representation at byte 0 is over"),
    (b"\xff\xff\xff\xff\xff\x7f", "integer in the representation at byte 0 is over"),
    (b"\x82\x40\x01a" + _enc_int(4063, 7, 0, 0) + b"v" * 4063 + b"\xbe" * 256,
     "header list over 1048576 octets"),
])
def test_a_refusal_says_what_is_wrong(block: bytes, why: str) -> None:
    with pytest.raises(_hpack.HPACKError) as exc:
        (_hpack.Inflater(MAX_TABLE_SIZE, MAX_HEADER_BLOCK).decode(block))
    assert why in str(exc.value)
    assert reference(hpack.Decoder(max_header_list_size=MAX_HEADER_BLOCK), block) is None


def test_a_string_over_64k_is_refused_where_hpack_took_it() -> None:
    """The one difference: libnghttp2 refuses a string literal over 65536 octets (RFC 7541
    5.1 lets a decoder refuse integers beyond its limits); hpack decoded it."""
    block = b"\x00\x01a" + _enc_int(MAX_STRING + 1, 7, 0, 0) + b"v" * (MAX_STRING + 1)
    decoder = hpack.Decoder(max_header_list_size=MAX_HEADER_BLOCK)
    assert decoder.decode(block, raw=True) == [(b"a", b"v" * (MAX_STRING + 1))]
    with pytest.raises(_hpack.HPACKError, match="string of 65537 octets"):
        _hpack.Inflater(MAX_TABLE_SIZE, MAX_HEADER_BLOCK).decode(block)
    at_limit = b"\x00\x01a" + _enc_int(MAX_STRING, 7, 0, 0) + b"v" * MAX_STRING
    assert _hpack.Inflater(MAX_TABLE_SIZE, MAX_HEADER_BLOCK).decode(at_limit) == \
        [(b"a", b"v" * MAX_STRING)]


def test_a_long_header_is_a_note_and_the_stream_is_kept(tmp_path: Path) -> None:
    """Through http2.py: the block is reported with the reason, the body kept, and the next
    stream (static entries only) decodes from the fresh table."""
    def frame(ftype: int, flags: int, sid: int, payload: bytes) -> bytes:
        return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + \
            sid.to_bytes(4, "big") + payload

    long = b"\x82\x87\x84\x41\x01a" + b"\x00\x01x" + _enc_int(70_000, 7, 0, 0) + b"v" * 70_000
    out = PREFACE + frame(1, 0x4, 1, long) + frame(0, 0x1, 1, b"body-kept") + \
        frame(1, 0x5, 3, b"\x82\x87\x84\x41\x01b")
    with MessageStore.open(run_from_bytes(tmp_path, [[("out", out)]])) as store:
        reqs = {m.meta.get("stream"): m for m in store.messages()
                if m.kind is MessageKind.REQUEST}
    assert reqs[1].body == b"body-kept"
    assert reqs[1].headers == ()
    assert "malformed HPACK header block: string of 70000 octets at byte 9, over the 65536" \
        " allowed" in reqs[1].notes
    assert reqs[3].url == "https://b/"


def test_a_refusal_spends_the_context() -> None:
    inf = _hpack.Inflater(MAX_TABLE_SIZE, MAX_HEADER_BLOCK)
    with pytest.raises(_hpack.HPACKError):
        inf.decode(b"\xbe")
    with pytest.raises(_hpack.HPACKError, match="spent"):
        inf.decode(b"\x82")
    with pytest.raises(ValueError, match="sizes"):
        _hpack.Inflater(-1, 0)


def test_without_the_compiled_module_http2_does_not_import() -> None:
    """CI builds _hpack; a missing one is an ImportError, never a quiet slower path."""
    code = ("import sys; sys.modules['harness.parse._hpack'] = None\n"
            "try:\n    import harness.parse.http2\nexcept ImportError:\n    print('refused')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "refused"

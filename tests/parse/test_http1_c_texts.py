"""The C HTTP/1.x parser's own ways with header text against http1.py, its reference, where
a shortcut could go wrong without test_http1_c's generated conversations showing it:

- header names compared without str.lower() (h1head.h's h1_name_is, which the HTTP/2 reader
  shares): the premise that no Latin-1 character past ASCII lowers into ASCII, and names
  with letters past ASCII that lower to no name the parser looks up;
- header names and values kept between messages by their bytes (h1head.c's tables,
  texttable.h): texts that share a slot, lengths around the tables' limit, the same bytes
  as a name and a value, texts that are not ASCII or not UTF-8;
- header lines kept whole by their bytes (h1head.c's line table): the same bytes first in
  a head and folded onto the line before, without a colon, with a text that is not ASCII;
- methods and reason phrases kept by their bytes (h1_word): every method, reasons that are
  not ASCII or not UTF-8, each again;
- header names of eight characters or more compared eight at a time (h1_lower8_is): each
  character of each name looked up written in capitals and as its neighbours past A-Z.
"""

from __future__ import annotations

import pytest

from harness.parse.http1 import METHODS
from harness.parse.reassembly import ConnFacts
from tests.parse.test_http1_c import GZ, _flow, _same


def test_only_the_kelvin_sign_lowers_into_ascii() -> None:
    """What h1head.h's h1_name_is (the header-name test of both C parsers) relies on to
    answer without str.lower(): no character of the one-byte kind past ASCII lowers into
    ASCII, so such a name never equals a lower-case ASCII one; of all characters only
    U+212A KELVIN SIGN lowers to ASCII text, and U+0130 to text with an ASCII letter."""
    assert not [c for c in range(0x80, 0x100) if any(ord(x) < 0x80 for x in chr(c).lower())]
    assert [c for c in range(0x80, 0x110000) if chr(c).lower().isascii()] == [0x212A]
    assert [c for c in range(0x80, 0x110000)
            if any(ord(x) < 0x80 for x in chr(c).lower())] == [0x130, 0x212A]


# Looked-up names with a letter written past ASCII: in Latin-1 (É, Í, ñ: the one-byte kind,
# answered without lower()), or as U+0130 and U+212A (which lower() takes to "i\u0307" and
# "k"); each lowers to no looked-up name, as Draft.header and http1._get compare.
NEAR_NAMES = ["Cont\xc9nt-Length", "Transfer-Encod\xcdng", "Transfer-Encodi\xf1g",
              "Transfer-Encod\u0130ng", "Content-Encod\u0130ng", "Upgrad\xc9", "H\xd3st",
              "Ho\u212ast", "\u212aost", "Upgrade\u212a", "Content-Length\u0130"]


@pytest.mark.parametrize("name", NEAR_NAMES)
def test_names_past_ascii_match_as_str_lower_does(name: str) -> None:
    """A name that is not ASCII answers a lookup as str.lower() would (never, for these),
    written as UTF-8 and as Latin-1 where it can be, with values the parser acts on."""
    for enc in ("utf-8", "latin-1"):
        try:
            raw = name.encode(enc)
        except UnicodeEncodeError:
            continue
        for value in (b"chunked", b"gzip", b"3", b"h.test", b"websocket"):
            line = raw + b": " + value + b"\r\n"
            out = b"POST / HTTP/1.1\r\n" + line + b"\r\n" + GZ
            inn = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + line + b"\r\nab"
            _same(_flow("out", out + out, [9], {}), _flow("in", inn, [], {}),
                  ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


# Texts whose slot in h1head.c's tables (texttable.h: length, first and last eight bytes)
# is the same, so each takes the slot of the one before; lengths around the tables' limit.
SAME_SLOT = [b"abcdefgh" + bytes([c]) * 5 + b"12345678" for c in b"xyz\xe9"]
SAME_SLOT += [b"abcdefgh-!", b'abcdefgh-"']  # the same slot too: only the last byte differs
KEPT = [*SAME_SLOT, b"h\xe9", b"caf\xc3\xa9", b"\xff", b"gzip", b"Host", b"host", b"v",
        *[b"v" * n for n in (7, 8, 9, 255, 256, 257)], b"\xe9" * 9]


@pytest.mark.parametrize("text", KEPT)
def test_header_texts_kept_between_messages_read_alike(text: bytes) -> None:
    """Header names and values found by their bytes in C (ASCII texts only) read as
    Python reads them: the same bytes as a name and as a value, before and after texts
    that are not ASCII or not UTF-8 with the same slot, in one flow and the next."""
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in
                     ((text, text), (b"X-" + text, b"a"), (b"X-A", text)))
    for other in (text, *SAME_SLOT, text):
        more = b"".join(t + b": " + t + b"\r\n" for t in (other, text))
        out = b"GET / HTTP/1.1\r\n" + lines + more + b"\r\nGET /b HTTP/1.1\r\n" + more + \
            lines + b"\r\n"
        inn = b"HTTP/1.1 204 No\r\n" + more + b"\r\nHTTP/1.1 204 No\r\n" + lines + b"\r\n"
        _same(_flow("out", out, [5, 60], {}), _flow("in", inn, [], {}),
              ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


# Lines as header_line gets them (no \r\n): each is kept whole only when it reads as
# "name: value" with both texts ASCII, and must read as Python reads it wherever it is.
LINES = [b"A: b", b"A:b", b"A :  b ", b" A: b", b"\tA: b", b"A\x0b: b\x0c", b"A: b\xe9",
         b"A\xe9: b", b"A: caf\xc3\xa9", b"A", b": b", b"A:", b":", b"A: b: c",
         b"a: " + b"v" * 253, b"a: " + b"v" * 254, *(t + b": " + t for t in SAME_SLOT),
         *(b"a" * n + b": b" for n in (0, 1, 2, 3, 4, 5, 8, 13, 14))]


@pytest.mark.parametrize("line", LINES)
def test_header_lines_kept_between_messages_read_alike(line: bytes) -> None:
    """A line first in its head (where a leading space does not fold it), after another
    (where it does), beside lines of the same slot, in the next message and the next flow:
    the table gives no pair for bytes whose reading makes a note or differs by place."""
    others = b"".join(t + b": " + t + b"\r\n" for t in SAME_SLOT)
    for first in (line + b"\r\nB: c\r\n", b"B: c\r\n" + line + b"\r\n" + others):
        out = b"GET / HTTP/1.1\r\n" + first + b"\r\nGET /b HTTP/1.1\r\n" + line + \
            b"\r\n" + line + b"\r\n\r\n"
        inn = b"HTTP/1.1 204 No\r\n" + line + b"\r\n" + first + b"\r\n"
        _same(_flow("out", out, [5, 60], {}), _flow("in", inn, [], {}),
              ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


def _alike_but_the_end() -> list[bytes]:
    """Texts of every length texttable.h compares apart (under 4 bytes, under 8, up to 16,
    more), up to 300 of each that differ only in their last bytes, and the short ones in
    every last byte that is ASCII and not a line's end (the tables keep ASCII texts)."""
    return [(b"v" * 24 + str(i).encode())[-n:] for n in range(1, 24)
            for i in range(min(300, 10 ** n))] + \
        [start + bytes([c]) for start in (b"", b"a", b"ab", b"abc") for c in range(0x80)
         if c not in b"\r\n"]


def test_many_texts_alike_but_the_end_read_alike() -> None:
    """So many texts of each length in one head that some share a slot of each table
    (names, values, lines) whatever its hash: only a comparison of every byte tells them
    apart."""
    head = b"".join(b"N" + t + b": " + t + b"\r\n" for t in _alike_but_the_end())
    out = b"GET / HTTP/1.1\r\n" + head + b"\r\n"
    _same(_flow("out", out + out, [9], {}), _flow("in", b"", [], {}),
          ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


@pytest.mark.parametrize("reason", [b"OK", b"O", b"", b"\xffK", b"caf\xc3\xa9", b"caf\xe9",
                                    b"K\xff", b"Not Found", *SAME_SLOT])
def test_start_line_words_kept_between_messages_read_alike(reason: bytes) -> None:
    """A reason phrase, and the same bytes as a header value, in one response and the next
    (a reason that is not UTF-8 gets its note each time); every method, twice."""
    inn = b"".join(b"HTTP/1.1 204 " + r + b"\r\nX: " + reason + b"\r\n\r\n"
                   for r in (reason, b"OK", reason, reason))
    out = b"".join(m + b" /" + reason[:1] + b" HTTP/1.1\r\n\r\n" for m in METHODS * 2
                   if m != b"CONNECT")
    _same(_flow("out", out, [7], {}), _flow("in", inn, [], {}),
          ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


def near_misses(name: str) -> list[bytes]:
    """name (lower-case ASCII) with one character, in turn, in capitals, as the characters
    next to A-Z ("@[`{") and as itself less or plus 0x20 (a byte lowered by OR-ing 0x20
    where it should not be would match)."""
    out = []
    for i, c in enumerate(name.encode()):
        for other in {c & ~0x20, c ^ 0x20, *b"@[`{", 0x7f} - {c}:
            out.append(name.encode()[:i] + bytes([other]) + name.encode()[i + 1 :])
    return out


LOOKED_UP = ["content-length", "transfer-encoding", "content-encoding", "content-type",
             "connection"]


def test_names_compared_eight_at_a_time_read_alike() -> None:
    """Each looked-up name of eight characters or more, and each near miss of it, with a
    value the parser acts on: only the names str.lower() takes to it act."""
    facts = ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443)
    for looked_up in LOOKED_UP:
        for name in [looked_up.encode(), looked_up.upper().encode(), *near_misses(looked_up)]:
            if b"\n" in name or b":" in name:  # a "\r" inside stays in the name
                continue
            for value in (b"chunked", b"gzip", b"3"):
                line = name + b": " + value + b"\r\n"
                out = b"POST / HTTP/1.1\r\n" + line + b"\r\n" + GZ
                inn = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + line + b"\r\nab"
                _same(_flow("out", out, [9], {}), _flow("in", inn, [], {}), facts)

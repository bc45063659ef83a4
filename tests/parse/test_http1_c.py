"""HTTP/1.x parsing in C (harness/parse/_http1.c) against http1.py's Python, its reference.

On generated conversations, valid and damaged (heads cut anywhere, random bytes, bad and
huge chunk sizes and Content-Lengths, obs-fold, bare LF, NUL, text that is not UTF-8 or not
ASCII, Kelvin signs and Unicode spaces where str.lower()/str.strip() reach past ASCII,
100-continue, pipelining, Upgrade and CONNECT, coded bodies), split into events at random
points, some of them truncated by the agent, both build the same drafts field by field,
stop at the same offsets and link the same requests. test_http1_c_texts.py has the header
names and texts the C reads its own way.
"""

from __future__ import annotations

import dataclasses
import gzip
import random
import zlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.parse import _http1, http1
from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import Chunk, ConnFacts, Flow

FIELDS = [f.name for f in dataclasses.fields(Draft)]
Result = list[tuple[object, ...]]


def _flow(direction: str, data: bytes, cuts: list[int], lost: dict[int, int]) -> Flow:
    """``data`` as events ending at ``cuts``; ``lost``: event index → bytes the agent cut."""
    bounds = sorted({c for c in cuts if 0 < c < len(data)} | {len(data)}) if data else []
    chunks: list[Chunk] = []
    start = 0
    for i, end in enumerate(bounds):
        chunks.append(Chunk(start, end - start, 10 + 3 * i, 100.0 + i / 8, lost.get(i, 0)))
        start = end
    # through the constructor: a Flow keeps its chunks' seqs and times as columns
    return Flow(direction, data, chunks, [c.offset for c in chunks],
                any(c.missing > 0 for c in chunks))


def _conversation(out: Flow, inn: Flow, facts: ConnFacts, compiled: bool,
                  budget: int) -> Result:
    """connection._http1's loop (Upgrade refused, then on), through one implementation."""
    drafts: list[Draft] = []
    stops: list[object] = []
    out_pos = in_pos = 0
    requests: list[Draft] = []
    for _ in range(50):
        req = http1.parse_requests(out, out_pos, facts, budget, compiled=compiled)
        drafts += req.drafts
        requests += req.requests
        out_pos = req.stop
        resp = http1.parse_responses(inn, in_pos, requests, facts, budget, req.upgrade,
                                     compiled=compiled)
        in_pos = resp.stop
        answered = {id(d.request) for d in resp.drafts if d.request is not None}
        requests = [r for r in requests if id(r) not in answered]
        drafts += resp.drafts
        stops.append((out_pos, in_pos, [drafts.index(r) for r in req.requests],
                       None if req.upgrade is None else drafts.index(req.upgrade),
                       None if resp.switched is None else drafts.index(resp.switched)))
        if resp.switched is not None or req.upgrade is None or out_pos >= len(out):
            break
    rows: Result = [tuple(stops)]
    for d in drafts:
        row = []
        for name in FIELDS:
            value = getattr(d, name)
            if name == "request":
                value = None if value is None else drafts.index(value)
            row.append((name, type(value).__name__, value))
        rows.append(tuple(row))
    return rows


def _same(out: Flow, inn: Flow, facts: ConnFacts, budget: int = 1 << 20) -> Result:
    """Both parsers' results, asserted equal; the C one's returned."""
    want = _conversation(out, inn, facts, False, budget)
    got = _conversation(out, inn, facts, True, budget)
    assert got[0] == want[0]
    assert len(got) == len(want)
    for g, w in zip(got[1:], want[1:], strict=True):
        for gf, wf in zip(g, w, strict=True):
            assert gf == wf, gf[0]
    return got


GZ = gzip.compress(b'{"id": "865231637425695"}')
DEFL = zlib.compress(b"a=1&b=2")
WEIRD = ["", " ", "\t", "\x1c", "\x85", "\xa0", "\u2000", "\u212a", "K", ",", ";", "\x00",
         "\r", "\n", "\r\n", ":", "\xff", "\u00e9"]
"""Characters where bytes and str rules differ (str.strip, str.lower, Latin-1 fallbacks)."""

names = st.sampled_from(["Host", "host", "HOST", "Content-Length", "content-length",
                         "Transfer-Encoding", "transfer-encoding", "Upgrade", "Connection",
                         "Content-Encoding", "X-A", "Expect", "Trailer",
                         "X-\u212aey", "Hos\u0442", "Ho\xffst", ""])
weird = st.sampled_from(WEIRD)
values = st.one_of(
    st.sampled_from(["p.test", "p.test:8080", "[::1]:443", "[::1", "a:b:c", " h ", "0", "5",
                     "10", "+5", "1_0", "-1", "00000000000000000003", "999999999999999999",
                     "1000000000000000000", "5, 5", "5,6", "\uff15", "chunked", "CHUNKED",
                     "gzip, chunked", "chun\u212aed", "gzip", "deflate", "x-gzip, identity",
                     "br", "zstd", "websocket", "h2c", "100-continue", "identity", ",", ""]),
    st.tuples(weird, st.sampled_from(["5", "chunked", "gzip", "h.test", "12"]), weird)
    .map("".join),
    st.text(max_size=12))


@st.composite
def header_line(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r\r\n"]))
    if kind == 0:  # obs-fold
        return draw(st.sampled_from([b" ", b"\t"])) + draw(values).encode("utf-8") + eol
    if kind == 1:  # no colon, raw bytes
        return draw(st.binary(max_size=70)).replace(b"\n", b"") + eol
    enc = draw(st.sampled_from(["utf-8", "utf-8", "latin-1"]))
    name = draw(names).encode(enc, "replace")
    value = draw(values).encode(enc, "replace")
    space = draw(st.sampled_from([b"", b" ", b"  ", b"\t", b" \x0b"]))
    return name + b":" + space + value + draw(st.sampled_from([b"", b" ", b"\x0c"])) + eol


def chunked(draw: st.DrawFn, body: bytes) -> bytes:
    parts = []
    pos = 0
    while pos < len(body):
        n = draw(st.integers(1, max(1, len(body) - pos)))
        size = draw(st.sampled_from([f"{n:x}", f"{n:X}", f"{n:x};ext=1", f" {n:x} ", f"0{n:x}",
                                     f"{n:x}\r"]))
        eol = draw(st.sampled_from(["\r\n", "\n"]))
        parts.append(size.encode() + eol.encode() + body[pos : pos + n] + eol.encode())
        pos += n
    if draw(st.booleans()):  # a damaged size line
        parts.insert(draw(st.integers(0, len(parts))), draw(st.sampled_from(
            [b"-5\r\n", b"+5\r\n", b"0x5\r\n", b"5_0\r\n", b"\r\n", b"zz\r\n",
             b"ffffffffffffffff\r\n", b"10000000000000000\r\n", b"7" * 1100,
             b"fffffffffffffff0\r\nab"])))
    trailer = draw(st.lists(header_line(), max_size=2))
    return b"".join(parts) + b"0\r\n" + b"".join(trailer) + draw(st.sampled_from(
        [b"\r\n", b"\n", b""]))


def mostly(good: list[bytes], bad: list[bytes]) -> st.SearchStrategy[bytes]:
    """One of ``good`` three times in four, else one of ``bad``."""
    return st.one_of(*[st.sampled_from(good)] * 3, st.sampled_from(bad))


@st.composite
def message(draw: st.DrawFn, request: bool) -> bytes:
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    if request:
        method = draw(mostly([b"GET", b"POST", b"HEAD", b"PUT", b"PROPPATCH", b"PURGE"],
                             [b"BREW", b"get", b"A" * 21, b"CONNECT", b"OPTIONS"]))
        target = draw(mostly([b"/", b"/a?b=c", b"*", b"http://x.test/p", b"h.test:443"],
                             [b"wss://w/", b"p\xc3\xa9", b"/\xff\xfe", b"", b"/a b", b"/\x00",
                              b"ws:/x"]))
        version = draw(mostly([b"HTTP/1.1", b"HTTP/1.0"], [b"HTTP/2.0", b"HTTP/1.2", b"HTTP/1.x",
                                                          b"http/1.1"]))
        start = method + b" " + target + b" " + version + eol
    else:
        status = draw(mostly([b"200", b"200", b"100", b"204", b"304", b"404"],
                             [b"101", b"000", b"199", b"999", b"20", b"2000"]))
        reason = draw(mostly([b" OK", b"", b" ", b" Continue"],
                             [b" \xff\xfe", b" caf\xc3\xa9", b" a\rb", b" \x00"]))
        start = (draw(mostly([b"HTTP/1.1", b"HTTP/1.0"], [b"HTTP/0.9", b"HTTP/1.1 "]))
                 + b" " + status + reason + eol)
    lines = draw(st.lists(header_line(), max_size=5))
    lines.insert(draw(st.integers(0, len(lines))), draw(mostly(
        [b"Host: h.test" + eol, b"Expect: 100-continue" + eol, b"Connection: keep-alive" + eol,
         b""], [b"Upgrade: websocket" + eol, b"Upgrade: h2c" + eol])))
    body = draw(st.sampled_from([b"", b"ok", b"x" * 40, GZ, DEFL, b"\r\nGET / HTTP/1.1\r\n"]))
    framing = draw(st.integers(0, 4))
    if framing == 0:
        lines.append(b"Content-Length: " + str(len(body)).encode() + eol)
    elif framing in (1, 4):
        lines.append(draw(st.sampled_from([b"Transfer-Encoding: chunked", b"transfer-encoding: "
                                           b"gzip, chunked", b"Transfer-Encoding: CHUNKED"]))
                     + eol)
        body = chunked(draw, body)
    elif framing == 2:
        lines.append(b"Content-Length: " + str(len(body) + draw(st.integers(-3, 3))).encode()
                     + eol)
    if body in (GZ, DEFL) and draw(st.booleans()):
        lines.append(b"Content-Encoding: " + (b"gzip" if body is GZ else b"deflate") + eol)
    end = draw(mostly([eol], [b"\r\n", b"\n", b"\r\r\n", b""]))
    return start + b"".join(lines) + end + body


@st.composite
def flow(draw: st.DrawFn, direction: str) -> Flow:
    parts = draw(st.lists(st.one_of(*[message(direction == "out")] * 4, st.binary(max_size=30)),
                          min_size=1, max_size=6))
    data = b"".join(parts)
    if data and draw(st.integers(0, 2)) == 0:  # damage: cut, insert, overwrite
        at = draw(st.integers(0, len(data)))
        what = draw(st.integers(0, 2))
        junk = draw(st.binary(min_size=1, max_size=8))
        data = (data[:at] if what == 0 else data[:at] + junk + data[at:] if what == 1
                else data[:at] + junk + data[at + len(junk):])
    cuts = draw(st.lists(st.integers(0, max(0, len(data))), max_size=6))
    lost = draw(st.dictionaries(st.integers(0, 6), st.integers(0, 500), max_size=2))
    return _flow(direction, data, cuts, lost)


facts = st.builds(ConnFacts, conn=st.sampled_from(["c1", None]),
                  source=st.just("native.tls"), layer=st.sampled_from(["tls", "tcp"]),
                  ip=st.sampled_from([None, "", "10.0.0.1"]),
                  port=st.sampled_from([None, 443, 0]),
                  sni=st.sampled_from([None, "", "s.test"]))


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(flow("out"), flow("in"), facts)
@example(_flow("out", b"POST /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 2\r\n\r\nokGET /b HTTP/1.1\r\n\r\n", [30], {}),
         _flow("in", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                     b"HTTP/1.1 204 No\r\n\r\n", [], {}),
         ConnFacts("c", "native.tls", "tls"))
def test_same_drafts_as_python(out: Flow, inn: Flow, conn: ConnFacts) -> None:
    _same(out, inn, conn)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from([b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", b"\r\n", b"\n",
                                 b"\r", b"Host: a\r\n", b"HTTP/1.", b"Content-Length: 3\r\n",
                                 b"Transfer-Encoding: chunked\r\n", b"3\r\n", b"0\r\n",
                                 b"Upgrade: h2c\r\n", b" fold\r\n", b"abc", b"\x00", b"\xff",
                                 b"POST ", b"HTTP/1.0 101 S\n", b"HEAD /h HTTP/1.1\n",
                                 b"GET /9 HTTP/1.2\r\n", b"PUT\t/ HTTP/1.1\n"]),
                max_size=25).map(b"".join),
       st.lists(st.sampled_from([b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", b"\r\n", b"\n",
                                 b"HTTP/1.1 100 Continue\r\n", b"Content-Length: 3\r\n",
                                 b"Transfer-Encoding: chunked\r\n", b"3\r\n", b"0\r\n", b"abc",
                                 b"HTTP/1.1 101 Switching\r\n", b"HTTP/1.1 204 N\r\n"]),
                max_size=25).map(b"".join),
       st.lists(st.integers(0, 400), max_size=5))
def test_same_drafts_on_token_soup(out: bytes, inn: bytes, cuts: list[int]) -> None:
    """Streams of HTTP/1 fragments: every framing branch met in odd orders."""
    _same(_flow("out", out, cuts, {}), _flow("in", inn, cuts, {1: 7}),
          ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


@given(st.binary(max_size=300), st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_same_drafts_on_random_bytes(out: bytes, inn: bytes) -> None:
    _same(_flow("out", b"GET / HTTP/1.1\r\n" + out, [7], {}), _flow("in", inn, [], {}),
          ConnFacts(None, "native.tls", "tcp"))


LOOKED_UP = ["Host", "Content-Length", "Transfer-Encoding", "Upgrade", "Content-Encoding"]
TRICKY = ["5", "2", "0", " 2 ", "\x1c2\x1f", "\x852", "\xa02", "\u20002\u3000", "2,7", " 2 , 9",
          "\uff12", "+2", "-2", "2_0", "0" * 18 + "2", "0" * 17 + "2", "1" * 19, "",
          "chunked", "chun\u212aed", "CHUNKED", "x, chunked", "chunked, gzip", "\u2000chunked",
          "gzip", "gzip, chunked", "deflate,", ",", " , ", "GZIP", "identity", "\u212a",
          "h.test", "h.test:1", " h.test:1 ", "\x1ch.test:1", "\xa0[::1]:8", "[::1", "[::1]:8",
          "a:b:c", ":", "h\u00e9.test", "websocket", "\x00"]


@pytest.mark.parametrize("name", LOOKED_UP)
def test_same_drafts_for_values_str_reads_past_ascii(name: str) -> None:
    """Every header the parser looks up, with values where str.strip()/str.lower() differ
    from their ASCII reading (Kelvin sign, Unicode spaces, \x1c-\x1f, fullwidth digits),
    as UTF-8 and as Latin-1, in a request and in a response, framed three ways."""
    for value in TRICKY:
        for enc in ("utf-8", "latin-1"):
            line = name.encode() + b": " + value.encode(enc, "replace") + b"\r\n"
            body = b"2\r\nab\r\n0\r\n" + line + b"\r\n" + GZ
            for extra in (b"", b"Content-Length: 3\r\n", b"Transfer-Encoding: chunked\r\n"):
                out = b"POST / HTTP/1.1\r\n" + extra + line + b"\r\n" + body
                inn = b"HTTP/1.1 200 OK\r\n" + extra + line + b"\r\n" + body
                _same(_flow("out", out + out, [40], {}), _flow("in", inn, [], {}),
                      ConnFacts("c", "native.tls", "tls", "10.0.0.1", 443))


def _keepalive(rng: random.Random) -> tuple[bytes, bytes]:
    """A well-formed keep-alive conversation: pipelined requests and their answers."""
    out, inn = [], []
    for _ in range(rng.randint(1, 8)):
        method = rng.choice(["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS"])
        body = rng.choice([b"", b"a=1", GZ, DEFL, bytes(rng.randbytes(rng.randint(0, 300)))])
        head = [f"{method} /p{rng.randint(0, 99)}?q={rng.random()} HTTP/1.{rng.randint(0, 1)}",
                rng.choice(["Host: h.test", "host: h.test:8443", "Host: [::1]:80", "X: y"])]
        coded = body in (GZ, DEFL) and rng.random() < 0.7
        if coded:
            head.append("Content-Encoding: " + ("gzip" if body is GZ else "deflate"))
        if rng.random() < 0.3:
            head.append("Expect: 100-continue")
            inn.append(b"HTTP/1.1 100 Continue\r\n\r\n")
        if rng.random() < 0.4:
            head.append("Transfer-Encoding: chunked")
            cut = rng.randint(0, len(body))
            wire = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n"
                            for p in (body[:cut], body[cut:]) if p) + b"0\r\nX-T: 1\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(body)}")
            wire = body
        out.append("\r\n".join(head).encode() + b"\r\n\r\n" + wire)
        status = rng.choice([200, 200, 201, 204, 304, 404, 500])
        answer = rng.choice([b"", b"ok", GZ])
        lines = [f"HTTP/1.1 {status} {rng.choice(['OK', '', 'Fine'])}".encode()]
        if answer is GZ:
            lines.append(b"Content-Encoding: gzip")
        lines.append(b"Content-Length: %d" % len(answer))
        bodiless = method == "HEAD" or status in (204, 304)
        inn.append(b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if bodiless else answer))
    return b"".join(out), b"".join(inn)


@pytest.mark.parametrize("seed", range(8))
def test_same_drafts_on_keepalive_conversations(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(150):
        out, inn = _keepalive(rng)
        cuts = [rng.randint(0, len(out)) for _ in range(rng.randint(0, 6))]
        lost = {rng.randint(0, 6): rng.randint(1, 99)} if rng.random() < 0.2 else {}
        rows = _same(_flow("out", out, cuts, lost), _flow("in", inn, cuts[:2], {}),
                     ConnFacts("c", "native.tls", rng.choice(["tls", "tcp"]), "10.0.0.1", 443))
        kinds = [row[0][2] for row in rows[1:]]
        linked = [row[FIELDS.index("request")][2] for row in rows[1:]]
        assert MessageKind.RAW not in kinds  # well-formed: the framing paths, not resyncs
        assert all(i is not None for k, i in zip(kinds, linked, strict=True)
                   if k is MessageKind.RESPONSE)


RESYNC_OUT = [b"\nGET / HTTP/1.2\r\n\r\n", b"\nGET / HTTP/1.9\r\n\r\n",
              b"\nget / HTTP/1.1\r\n\r\n", b"\nGET  / HTTP/1.1\r\n\r\n",
              b"\nGET / HTTP/1.1\r\r\n\n", b"\rGET / HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n\r\n",
              b"\nPROPPATCHX / HTTP/1.1\n\n", b"\nBREW / HTTP/1.1\n\n", b"\nTRACE /t HTTP/1.1\n\n",
              b"\nPUT\t/ HTTP/1.1\n\n", b"\nGET / HTTP/1.1 \r\n\r\n", b"\nGET / HTTP/1.0\n"]
RESYNC_IN = [b"HTTP/1.1 200 OK\r\n\r\n", b"\nHTTP/1.1 200 OK\r\n\r\n", b"\nHTTP/1.x\n",
             b"\nHTTP/1.1 20 OK\n\n", b"\nHTTP/1.1 200 OK\rX\n\n", b"\nHTTP/1.0 204\n\n"]


@pytest.mark.parametrize("tail", [b"", b"\nGET /z HTTP/1.1\r\n\r\n"])
def test_same_resync_points(tail: bytes) -> None:
    """Junk, then every pair of candidate lines: where each parser picks up again."""
    for a in RESYNC_OUT:
        for b in RESYNC_OUT:
            _same(_flow("out", b"junk" + a + b + tail, [6], {}), _flow("in", b"", [], {}),
                  ConnFacts("c", "native.tls", "tls"))
    for a in RESYNC_IN:
        for b in RESYNC_IN:
            _same(_flow("out", b"GET / HTTP/1.1\r\n\r\n" * 3, [], {}),
                  _flow("in", b"junk" + a + b + tail.replace(b"GET /z", b"HTTP/1.1 200"), [6], {}),
                  ConnFacts("c", "native.tls", "tls"))


@pytest.mark.parametrize("extra", [-3, -2, -1, 0, 1, 2])
@pytest.mark.parametrize("request_side", [True, False])
def test_heads_at_the_size_limit(extra: int, request_side: bool) -> None:
    """A head ending at or just past MAX_HEAD (both sides of each regex's endpos)."""
    start = b"GET / HTTP/1.1\r\n" if request_side else b"HTTP/1.1 200 OK\r\n"
    filler = http1.MAX_HEAD - len(start) - len(b"X: \r\n\r\n") + extra
    data = start + b"X: " + b"v" * filler + b"\r\n\r\nbody" + start + b"\r\n"
    flows = (_flow("out", data, [5000], {}), _flow("in", b"", [], {})) if request_side else \
        (_flow("out", b"", [], {}), _flow("in", data, [5000], {0: 3}))
    _same(*flows, ConnFacts("c", "native.tls", "tls"))


def test_a_huge_chunk_size_and_content_length() -> None:
    for body in (b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc",
                 b"Content-Length: 999999999999999999\r\n\r\nabc",
                 b"Content-Length: 9999999999999999999\r\n\r\nabc"):
        _same(_flow("out", b"POST / HTTP/1.1\r\n" + body, [], {}),
              _flow("in", b"HTTP/1.1 200 OK\r\n" + body, [], {}), ConnFacts("c", "n.tls", "tls"))


def test_the_compiled_parser_is_used() -> None:
    """What the differential tests compare is the C parser, not Python twice."""
    assert http1._http1 is _http1
    flow_ = _flow("out", b"GET / HTTP/1.1\r\n\r\n", [], {})
    drafts, requests, upgrade, stop = _http1.parse_requests(
        flow_, 0, ConnFacts("c", "n.tls", "tls"), 1 << 20)
    assert requests == drafts
    assert drafts[0].kind is MessageKind.REQUEST
    assert (upgrade, stop) == (None, 18)


def test_setup_refuses_a_draft_it_does_not_know() -> None:
    @dataclasses.dataclass(slots=True)
    class Other:
        kind: MessageKind

    with pytest.raises(TypeError, match="fields"):
        _http1.setup(Other, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW,
                     http1.finish_body, http1.MAX_HEAD)
    flow_ = _flow("out", b"GET / HTTP/1.1\r\n\r\n", [], {})  # the earlier setup still holds
    assert type(http1.parse_requests(flow_, 0, ConnFacts("c", "n.tls", "tls")).drafts[0]) \
        is Draft

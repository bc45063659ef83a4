"""HTTP/1.x over one connection: requests from the ``out`` flow, responses from ``in``.

Handles keep-alive and pipelining (responses are matched to requests in order; interim
``1xx`` responses such as ``100 Continue`` do not consume a request), ``Content-Length``,
chunked bodies with trailers, close-delimited responses, HEAD/204/304 without body, and
``Upgrade`` (the parse stops where the protocol switches, for WebSocket to take over).
Whatever does not parse is kept as a RAW message and the parser resynchronises on the next
request line, so nothing is lost.

``_http1`` (harness/parse/_http1.c) does the same for a whole flow in one call and builds the
same Drafts; this module is its reference (``compiled=False``, tests/parse/test_http1_c.py)
and the parser of a checkout whose extension was not built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.parse.bodyref import keep
from harness.parse.draft import Draft, from_flow, raw
from harness.parse.encoding import DEFAULT_BUDGET, decode_content, parse_encodings
from harness.parse.message import MessageKind
from harness.parse.reassembly import Coded, ConnFacts, Flow
from harness.text import is_digits

try:  # built by setup.py with the package
    from harness.parse import _http1
except ImportError:  # pragma: no cover - a checkout that was never built: all in Python
    _http1 = None  # type: ignore[assignment]

MAX_HEAD = 256 * 1024
"""A request or response head longer than this is not HTTP (kept raw)."""

METHODS = (b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT",
           b"TRACE", b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK",
           b"UNLOCK", b"REPORT", b"SEARCH", b"PURGE")
_REQUEST_LINE = re.compile(rb"([A-Z][A-Z0-9_-]{0,19}) ([^\s]+) HTTP/(\d)\.(\d)\r?\n")
_RESYNC = re.compile(rb"(?:^|\n)((?:" + b"|".join(METHODS) + rb") [^\s]+ HTTP/1\.[01]\r?\n)")
_STATUS_LINE = re.compile(rb"HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?\r?\n")
_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
"""RFC 9112's chunk-size, 1*HEXDIG: int(x, 16) alone also takes "-5" (which walked the
parser backwards, for ever), "+5", "0x5" and "5_0"."""


_METHOD_START = re.compile(rb"(?:" + b"|".join(METHODS) + rb") (?:/|\*|https?://|[\w.-]+:\d)")


def looks_like_request(data: bytes) -> bool:
    """A known method, a space and the start of a target (the line itself may be long:
    analytics GETs carry tens of kilobytes of query string)."""
    return _METHOD_START.match(data[:64]) is not None


def looks_like_response(data: bytes) -> bool:
    return data[:7] in (b"HTTP/1.", b"HTTP/0.")


@dataclass(slots=True)
class _Head:
    start_line: re.Match[bytes]
    headers: list[tuple[str, str]]
    end: int
    """Offset just past the blank line."""
    notes: list[str]


def _decode_text(b: bytes, what: str, notes: list[str]) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        # Latin-1 maps each byte to one char, so value.encode("latin-1") gives the bytes back
        notes.append(f"{what} is not UTF-8; decoded as Latin-1 (bytes preserved)")
        return b.decode("latin-1")


def _parse_head(data: bytes, pos: int, line_re: re.Pattern[bytes]) -> _Head | None:
    m = line_re.match(data, pos, min(len(data), pos + MAX_HEAD))
    if m is None:
        return None
    end_m = _HEAD_END.search(data, m.end() - 2 if m.group(0).endswith(b"\r\n") else m.end() - 1,
                             min(len(data), pos + MAX_HEAD))
    if end_m is None:
        return None
    notes: list[str] = []
    headers: list[tuple[str, str]] = []
    block = data[m.end() : end_m.start()]
    for raw_line in block.split(b"\n") if block else []:
        line = raw_line.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            prev_name, prev_value = headers[-1]
            headers[-1] = (prev_name,
                           prev_value + " " + _decode_text(line.strip(), "header", notes))
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            notes.append(f"header line without colon kept as is: {line[:60]!r}")
            headers.append((_decode_text(line, "header", notes), ""))
            continue
        headers.append((_decode_text(name.strip(), "header name", notes),
                        _decode_text(value.strip(), f"header {name.strip()[:40]!r}", notes)))
    return _Head(m, headers, end_m.end(), notes)


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _read_body(data: bytes, pos: int, headers: list[tuple[str, str]], to_close: bool,
               notes: list[str]) -> tuple[bytes, int, bool]:
    """Body at ``pos``: (wire bytes, end offset, ok). ``ok`` False: framing is broken."""
    te = (_get(headers, "transfer-encoding") or "").lower()
    if "chunked" in te:
        return _read_chunked(data, pos, headers, notes)
    cl = _get(headers, "content-length")
    if cl is not None:
        first = cl.split(",")[0].strip()
        # 1*DIGIT (RFC 9110 8.6); int() would also take "+5", "1_0", "５" and 4301 digits
        n = int(first) if is_digits(first) and len(first) <= 18 else -1
        if n < 0:
            notes.append(f"bad Content-Length {cl!r}; resynchronising on the next message")
            return b"", pos, False
        if pos + n > len(data):
            notes.append(f"body truncated: Content-Length {n}, {len(data) - pos} bytes captured")
            return data[pos:], len(data), True
        return data[pos : pos + n], pos + n, True
    if to_close:
        return data[pos:], len(data), True
    return b"", pos, True


def _read_chunked(data: bytes, pos: int, headers: list[tuple[str, str]],
                  notes: list[str]) -> tuple[bytes, int, bool]:
    parts: list[bytes] = []
    while True:
        eol = data.find(b"\n", pos, pos + 1024)
        if eol < 0:
            if pos >= len(data) or len(data) - pos < 1024:
                notes.append("chunked body truncated: stream ended inside it")
                return b"".join(parts), len(data), True
            notes.append("bad chunk size line; resynchronising on the next message")
            return b"".join(parts), pos, False
        size_txt = data[pos:eol].split(b";")[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_txt):
            notes.append(f"bad chunk size {size_txt[:20]!r}; resynchronising on the next message")
            return b"".join(parts), pos, False
        size = int(size_txt, 16)
        pos = eol + 1
        if size == 0:
            # trailers until an empty line
            while True:
                eol = data.find(b"\n", pos)
                if eol < 0:
                    return b"".join(parts), len(data), True
                line = data[pos:eol].rstrip(b"\r")
                pos = eol + 1
                if not line:
                    return b"".join(parts), pos, True
                name, _, value = line.partition(b":")
                headers.append((name.decode("latin-1").strip(),
                                value.decode("latin-1").strip()))
        if pos + size > len(data):
            parts.append(data[pos:])
            notes.append("chunked body truncated: stream ended inside a chunk")
            return b"".join(parts), len(data), True
        parts.append(data[pos : pos + size])
        pos += size
        if data[pos : pos + 2] == b"\r\n":
            pos += 2
        elif data[pos : pos + 1] == b"\n":
            pos += 1


def finish_body(d: Draft, wire: bytes, budget: int = DEFAULT_BUDGET,
                coded: dict[int, Coded | None] | None = None) -> None:
    """Set the body, undoing Content-Encoding within the output budget; a body decoded whole
    (no note) noted in ``coded``, the :attr:`Flow.coded` of the flow ``wire`` was read from,
    for the store to keep as a reference to ``wire`` (:func:`bodyref.keep`).

    The C parsers (_http1.c, h2stream.c) do this themselves for the commonest coded body,
    one gzip or deflate coding that decodes whole (zinflate.c's zs_body), and call this for
    the rest; it stays the reference (tests/parse/test_coded_bodies.py)."""
    d.body_len_wire = len(wire)
    # transfer codings other than chunked (undone by the framing) apply outside the
    # content codings (RFC 9112 6.1): undo them first, so list them last
    transfer = [e for e in parse_encodings(d.header("transfer-encoding")) if e != "chunked"]
    encodings = (*parse_encodings(d.header("content-encoding")), *transfer)
    if not encodings or not wire:
        d.body = wire
        return
    res = decode_content(wire, encodings, budget)
    d.body = res.data
    d.notes += res.notes
    if res.data is not wire:
        d.meta["content_encoding"] = text = ",".join(encodings)
        if coded is not None and res.complete and not res.notes:
            keep(coded, res.data, wire, text, budget)


def _host_of(hostport: str | None) -> str | None:
    if not hostport:
        return None
    h = hostport.strip()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def url_of(target: str, host_header: str | None, facts: ConnFacts) -> str:
    if target.startswith(("http://", "https://", "ws://", "wss://")):
        return target
    authority = host_header or facts.sni or (f"{facts.ip}:{facts.port}" if facts.ip else "")
    if not target.startswith("/"):
        return f"{facts.scheme}://{target}" if target != "*" else f"{facts.scheme}://{authority}"
    return f"{facts.scheme}://{authority}{target}"


@dataclass(slots=True)
class RequestParse:
    drafts: list[Draft]
    """Requests and RAW drafts, in stream order."""
    requests: list[Draft]
    upgrade: Draft | None
    """A request asking to switch protocols; parsing stopped after it."""
    stop: int


def parse_requests(flow: Flow, start: int, facts: ConnFacts, budget: int = DEFAULT_BUDGET,
                   compiled: bool = True) -> RequestParse:
    """Requests from ``start``; ``compiled=False`` parses in Python (the reference)."""
    if compiled and _http1 is not None:
        return RequestParse(*_http1.parse_requests(flow, start, facts, budget))
    data = flow.data
    pos = start
    out = RequestParse([], [], None, len(data))
    while pos < len(data):
        head = _parse_head(data, pos, _REQUEST_LINE)
        if head is None or head.start_line.group(1) not in METHODS:
            nxt = _RESYNC.search(data, pos + 1)
            stop = nxt.start(1) if nxt else len(data)
            out.drafts.append(raw(flow, pos, stop, facts, "not HTTP/1.x here: kept raw"))
            pos = stop
            continue
        m = head.start_line
        d = from_flow(MessageKind.REQUEST, flow, pos, head.end, facts,
                      f"HTTP/{m.group(3).decode()}.{m.group(4).decode()}")
        d.method = m.group(1).decode("ascii")
        d.headers = head.headers
        d.notes += head.notes
        target = _decode_text(m.group(2), "request target", d.notes)
        host_header = _get(head.headers, "host")
        d.url = url_of(target, host_header, facts)
        d.host = _host_of(host_header)
        wire, end, _ok = _read_body(data, head.end, d.headers, False, d.notes)
        d.events = flow.seqs(pos, max(end, head.end))
        finish_body(d, wire, budget, flow.coded)
        out.drafts.append(d)
        out.requests.append(d)
        pos = end  # when the body framing was broken, the loop resynchronises from here
        upgrade = (_get(d.headers, "upgrade") or "").lower()
        if upgrade or d.method == "CONNECT":
            out.upgrade = d
            out.stop = pos
            return out
    out.stop = pos
    return out


@dataclass(slots=True)
class ResponseParse:
    drafts: list[Draft]
    switched: Draft | None
    """The ``101``/CONNECT ``2xx`` response after which the bytes are another protocol."""
    stop: int


def parse_responses(flow: Flow, start: int, requests: list[Draft], facts: ConnFacts,
                    budget: int = DEFAULT_BUDGET, until: Draft | None = None,
                    compiled: bool = True) -> ResponseParse:
    """Responses from ``start``; with ``until``, stop after the final answer to that request
    (an Upgrade: what follows depends on whether the server agreed). ``compiled=False``
    parses in Python (the reference)."""
    if compiled and _http1 is not None:
        return ResponseParse(*_http1.parse_responses(flow, start, requests, facts, budget, until))
    data = flow.data
    pos = start
    queue = list(requests)
    out = ResponseParse([], None, len(data))
    while pos < len(data):
        head = _parse_head(data, pos, _STATUS_LINE)
        if head is None:
            nxt = data.find(b"HTTP/1.", pos + 1)
            stop = nxt if nxt >= 0 and data[nxt - 1 : nxt] == b"\n" else len(data)
            out.drafts.append(raw(flow, pos, stop, facts, "not an HTTP/1.x response: kept raw"))
            pos = stop
            continue
        m = head.start_line
        status = int(m.group(3))
        d = from_flow(MessageKind.RESPONSE, flow, pos, head.end, facts,
                      f"HTTP/{m.group(1).decode()}.{m.group(2).decode()}")
        d.status = status
        d.headers = head.headers
        d.notes += head.notes
        if m.group(4):
            d.meta["reason"] = _decode_text(m.group(4), "reason phrase", d.notes)
        interim = 100 <= status < 200 and status != 101
        req = queue[0] if queue else None
        if req is None:
            d.notes.append("response without a captured request")
        else:
            d.request = req
            d.url, d.host, d.method = req.url, req.host, None
            if not interim:
                queue.pop(0)
        method = req.method if req else None
        no_body = (method == "HEAD" or 100 <= status < 200 or status in (204, 304)
                   or (method == "CONNECT" and 200 <= status < 300))
        if no_body:
            wire, end = b"", head.end
        else:
            wire, end, _ok = _read_body(data, head.end, d.headers, True, d.notes)
        d.events = flow.seqs(pos, max(end, head.end))
        finish_body(d, wire, budget, flow.coded)
        out.drafts.append(d)
        pos = end  # when the body framing was broken, the loop resynchronises from here
        if status == 101 or (method == "CONNECT" and 200 <= status < 300):
            out.switched = d
            out.stop = pos
            return out
        if until is not None and req is until and not interim:
            out.stop = pos
            return out
    out.stop = pos
    return out


if _http1 is not None:
    _http1.setup(Draft, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW, finish_body,
                 MAX_HEAD)

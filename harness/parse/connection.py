"""One connection's two flows → messages: sniff the protocol, then hand over to HTTP/1.x,
HTTP/2 or WebSocket; whatever is left is a RAW message (still scanned)."""

from __future__ import annotations

from harness.parse import _hpack, http1, http2, websocket
from harness.parse.draft import Draft, raw
from harness.parse.encoding import DEFAULT_BUDGET
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow


def sniff(out_flow: Flow, in_flow: Flow, facts: ConnFacts) -> str:
    """``h2``, ``http/1.1``, ``tls-ciphertext`` or ``unknown``."""
    out, inn = out_flow.data[:64], in_flow.data[:64]
    if out.startswith(http2.PREFACE[: len(out)]) and out:
        return "h2"
    if http1.looks_like_request(out_flow.data[:8192]) or (not out and
                                                          http1.looks_like_response(inn)):
        return "http/1.1"
    if facts.alpn == "h2" or (not out and http2.looks_like_frames(inn)):
        return "h2"
    if out[:1] == b"\x16" and out[1:2] == b"\x03":
        return "tls-ciphertext"
    return "unknown"


def parse_connection(out_flow: Flow, in_flow: Flow, facts: ConnFacts,
                     budget: int = DEFAULT_BUDGET) -> list[Draft]:
    proto = sniff(out_flow, in_flow, facts)
    if proto == "h2":
        return http2.parse(out_flow, in_flow, facts, budget)
    if proto == "http/1.1":
        return _http1(out_flow, in_flow, facts, budget)
    note = ("TLS records seen below the TLS hooks (ciphertext)" if proto == "tls-ciphertext"
            else "protocol not recognised: kept raw")
    return [raw(f, 0, len(f), facts, note, proto if proto != "unknown" else None)
            for f in (out_flow, in_flow) if f.data]


def requests_first(drafts: list[Draft]) -> None:
    """Put the responses last, each part in its order (a stable sort by whether a draft is a
    response), so that a response's request is written, and has its key, before it. In C
    for a list of Drafts (``_hpack.responses_last``: ~1,500 instructions a draft by the
    key); the sort is the reference, and what any other list gets."""
    if not _hpack.responses_last(drafts):
        drafts.sort(key=_is_response)


def _is_response(d: Draft) -> bool:
    return d.kind is MessageKind.RESPONSE


def _http1(out_flow: Flow, in_flow: Flow, facts: ConnFacts, budget: int) -> list[Draft]:
    drafts: list[Draft] = []
    out_pos, in_pos = 0, 0
    requests: list[Draft] = []
    # Loop because an Upgrade that the server refuses leaves HTTP/1.1 going on both sides.
    for _ in range(10_000):
        req = http1.parse_requests(out_flow, out_pos, facts, budget)
        drafts += req.drafts
        requests += req.requests
        out_pos = req.stop
        resp = http1.parse_responses(in_flow, in_pos, requests, facts, budget, req.upgrade)
        in_pos = resp.stop
        drafts += resp.drafts
        sw = resp.switched
        if sw is not None:
            drafts += _switched(sw, out_flow, out_pos, in_flow, in_pos, facts, budget)
            return drafts
        if req.upgrade is None or out_pos >= len(out_flow):
            break
        # the requests still unanswered, for the next round only (most flows have one round:
        # these two passes cost ~500 instructions a response)
        answered = {id(d.request) for d in resp.drafts if d.request is not None}
        requests = [r for r in requests if id(r) not in answered]
    return drafts


def _switched(resp: Draft, out_flow: Flow, out_pos: int, in_flow: Flow, in_pos: int,
              facts: ConnFacts, budget: int) -> list[Draft]:
    req = resp.request
    upgrade = (req.header("upgrade") if req else None) or resp.header("upgrade") or ""
    url = req.url if req else None
    host = req.host if req else None
    if "websocket" in upgrade.lower():
        params = websocket.deflate_params(resp.header("sec-websocket-extensions"))
        deflate = params is not None
        c_nt, s_nt = params if params else (False, False)
        return (websocket.parse_frames(out_flow, out_pos, facts, url, host, deflate, c_nt, budget)
                + websocket.parse_frames(in_flow, in_pos, facts, url, host, deflate, s_nt,
                                         budget))
    if upgrade.strip().lower() == "h2c":
        return http2.parse(out_flow, in_flow, facts, budget, out_pos, in_pos, req)
    what = "tunnel after CONNECT" if req is not None and req.method == "CONNECT" else \
        f"protocol switched to {upgrade!r}"
    return [raw(f, p, len(f), facts, f"{what}: kept raw")
            for f, p in ((out_flow, out_pos), (in_flow, in_pos)) if p < len(f)]

"""Records that are messages by themselves: Java HTTP stack calls (OkHttp,
HttpURLConnection...), analytics SDK calls, WebView page loads, DNS lookups, UDP datagrams.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.capture.rundir import Event
from harness.parse.draft import Draft, status_code
from harness.parse.encoding import decode_content, parse_encodings
from harness.parse.message import MessageKind
from harness.parse.reassembly import source_of

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.parse.dns import DnsPacket
    from harness.protocol import JSON


def _str(v: JSON) -> str | None:
    return v if isinstance(v, str) else None


def headers_of(value: JSON) -> list[tuple[str, str]]:
    """Headers as the Java hooks may send them: [[k, v]...], {k: v | [v...]}, or text."""
    out: list[tuple[str, str]] = []
    if isinstance(value, list):
        for item in value:
            if isinstance(item, list) and len(item) == 2:
                out.append((str(item[0]), str(item[1])))
            elif isinstance(item, dict) and "name" in item:
                out.append((str(item["name"]), str(item.get("value", ""))))
    elif isinstance(value, dict):
        for k, v in value.items():
            for one in v if isinstance(v, list) else [v]:
                out.append((k, str(one)))
    elif isinstance(value, str):
        for line in value.splitlines():
            k, sep, v = line.partition(":")
            if sep:
                out.append((k.strip(), v.strip()))
    return out


def host_of_url(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _base(ev: Event, kind: MessageKind, direction: str) -> Draft:
    d = Draft(kind=kind, t=ev.t, direction=direction, source=source_of(ev.hook),
              first_seq=ev.seq, conn=ev.conn, events=(ev.seq,))
    c = ev.connection
    if c is not None:
        d.ip, d.port, d.sni = c.peer_ip, c.peer_port, c.sni
        d.tls_version, d.cipher = c.tls_version, c.cipher
    frames = ev.fields.get("frames")
    if isinstance(frames, list):
        d.frames = tuple(str(f) for f in frames)
    if ev.truncated:
        d.notes.append(f"capture truncated: body cut to {len(ev.data or b'')} of"
                       f" {ev.orig_len} bytes by the agent")
    return d


def http(ev: Event) -> Draft:
    """A Java HTTP stack record: a request, a response, or (``phase`` ``body``) a chunk of
    a streamed request body, which the builder appends to its call's request."""
    f = ev.fields
    phase = _str(f.get("phase")) or ""
    is_resp = phase.startswith("resp") or (not phase and f.get("status") is not None) or \
        (phase != "body" and ev.direction == "in")
    d = _base(ev, MessageKind.RESPONSE if is_resp else MessageKind.REQUEST,
              "in" if is_resp else "out")
    d.url = _str(f.get("url"))
    d.host = host_of_url(d.url)
    d.method = None if is_resp else _str(f.get("method"))
    status = f.get("status")
    d.status = status_code(status)
    if d.status is None and status is not None:
        d.notes.append(f"bad status {str(status)[:40]!r}")
    d.headers = headers_of(f.get("headers"))
    d.protocol = _str(f.get("protocol"))
    d.sdk = _str(f.get("sender"))
    for key in ("stack", "phase", "call", "sender"):
        value = f.get(key)
        if isinstance(value, (str, int)):
            d.meta["java_" + key if key == "phase" else key] = value
    d.body = ev.data or b""
    return d


def finish_http(d: Draft) -> None:
    """Undo a content coding on a Java HTTP body once it is whole."""
    wire = d.body
    d.body_len_wire = len(wire)
    enc = parse_encodings(d.header("content-encoding"))
    # Hooks above the stack's transparent gzip see the body already decoded: only undo an
    # encoding the bytes still carry (gzip magic), or any other one when it decodes cleanly.
    if wire and enc and (enc[-1] not in ("gzip", "x-gzip") or wire[:2] == b"\x1f\x8b"):
        res = decode_content(wire, enc)
        if res.complete or enc[-1] in ("gzip", "x-gzip"):
            d.body = res.data
            d.notes += res.notes


def sdk(ev: Event) -> Draft:
    f = ev.fields
    d = _base(ev, MessageKind.SDK_CALL, "out")
    d.sdk = _str(f.get("sdk")) or _str(f.get("sender"))
    d.method = _str(f.get("method"))
    payload: dict[str, JSON] = {k: f[k] for k in ("sdk", "method", "event", "properties",
                                                   "sender") if k in f}
    d.meta["event"] = f.get("event")
    d.body = ev.data if ev.data else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    d.body_len_wire = len(d.body)
    return d


def page(ev: Event) -> Draft:
    f = ev.fields
    d = _base(ev, MessageKind.PAGE, "out")
    d.sdk = _str(f.get("sender"))
    d.url = _str(f.get("url"))
    d.host = host_of_url(d.url)
    d.method = _str(f.get("method"))
    d.meta["api"] = f.get("api")
    d.body = ev.data if ev.data else json.dumps(
        {k: f[k] for k in ("api", "method", "url") if k in f}, ensure_ascii=False
    ).encode("utf-8")
    return d


def dns(ev: Event) -> Draft:
    f = ev.fields
    d = _base(ev, MessageKind.DNS, "out")
    d.host = _str(f.get("name"))
    d.protocol = "dns"
    d.meta["addresses"] = f.get("addresses")
    d.meta["result"] = f.get("result")
    d.body = json.dumps({k: f[k] for k in ("name", "addresses") if k in f},
                        ensure_ascii=False).encode("utf-8")
    return d


DNS_PORTS = (53, 5353)


def dns_packet(ev: Event) -> DnsPacket | None:
    """The DNS packet in a UDP datagram to or from port 53 (or mDNS), if it is one."""
    c = ev.connection
    if c is None or c.peer_port not in DNS_PORTS or not ev.data:
        return None
    # imported here: a capture with no datagram to or from a DNS port has no packet to
    # parse, and the module (its dataclass) was ~0.6 ms of every analysis's start
    from harness.parse.dns import parse_dns

    return parse_dns(ev.data)


def datagram(ev: Event) -> Draft:
    d = _base(ev, MessageKind.DATAGRAM, ev.direction or "out")
    d.protocol = "udp"
    d.body = ev.data or b""
    d.body_len_wire = len(d.body)
    pkt = dns_packet(ev)
    if pkt is not None and pkt.questions:
        d.protocol = "dns"
        d.host = pkt.questions[0]
        d.meta["dns_questions"] = list(pkt.questions)
        if pkt.answers:
            d.meta["dns_answers"] = [[n, a] for n, a in pkt.answers]
    return d


def addresses(ev: Event) -> list[str]:
    """The addresses a ``dns`` record returned."""
    a = ev.fields.get("addresses")
    return [x for x in a if isinstance(x, str)] if isinstance(a, list) else []

"""HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): read a HAR into messages (for
``harness scan``) and write a run's messages as a HAR (``harness export --format har``).

Writing streams entry by entry, so a large run does not sit in memory as one JSON tree.
Bodies that are not UTF-8 are written base64 with ``"encoding": "base64"`` (HAR 1.2 allows
it for response content; for ``postData`` it is the common extension that browsers' HAR
readers accept). Fields the HAR format lacks are kept as ``_``-prefixed custom fields
(message id, phase, capture layer, notes), which HAR 1.2 allows.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qsl, urlsplit

from harness import __version__
from harness.errors import InputError
from harness.jsonfile import read_json_file
from harness.parse.draft import status_code
from harness.parse.message import Message, MessageKind
from harness.parse.storeread import MessageStore
from harness.text import utf8


def _iso(t: float) -> str | None:
    """``t`` as HAR's ISO 8601 date; None when no date holds it (a corrupt capture's clock:
    1e300, inf, before year 1)."""
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
    except (OverflowError, ValueError, OSError):
        return None


def _finite(x: float) -> float:
    """A time for the JSON written: ``Infinity`` and ``NaN`` are no JSON (only Python's
    reader takes them)."""
    return x if math.isfinite(x) else 0.0


def _text(body: bytes) -> dict[str, Any]:
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"text": base64.b64encode(body).decode("ascii"), "encoding": "base64"}


def _headers(m: Message) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in m.headers]


def _http_version(m: Message) -> str:
    p = m.protocol or ""
    return "HTTP/2" if p == "h2" else (p if p.startswith("HTTP/") else "HTTP/1.1")


def _entry(req: Message, resp: Message | None) -> dict[str, Any]:
    url = req.url or f"http://{req.host or req.ip or 'unknown'}/"
    try:
        pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    except ValueError:  # a URL urlsplit refuses ("http://[::1"): no queryString
        pairs = []
    query = [{"name": k, "value": v} for k, v in pairs]
    request: dict[str, Any] = {
        "method": req.method or "GET", "url": url, "httpVersion": _http_version(req),
        "cookies": [], "headers": _headers(req), "queryString": query, "headersSize": -1,
        "bodySize": req.body_len_wire if req.body_len_wire is not None else len(req.body),
    }
    if req.body:
        request["postData"] = {"mimeType": req.header("content-type") or "", "params": [],
                               **_text(req.body)}
    if resp is not None:
        response: dict[str, Any] = {
            "status": resp.status or 0, "statusText": str(resp.meta.get("reason") or ""),
            "httpVersion": _http_version(resp), "cookies": [], "headers": _headers(resp),
            "content": {"size": len(resp.body),
                        "mimeType": resp.header("content-type") or "",
                        **_text(resp.body)},
            "redirectURL": resp.header("location") or "", "headersSize": -1,
            "bodySize": resp.body_len_wire if resp.body_len_wire is not None else -1,
        }
        if resp.body_len_wire is not None and resp.body_len_wire != len(resp.body):
            response["content"]["compression"] = len(resp.body) - resp.body_len_wire
        wait = _finite(max(0.0, (resp.t - req.t) * 1000.0))
    else:
        response = {"status": 0, "statusText": "", "httpVersion": "", "cookies": [],
                    "headers": [], "content": {"size": 0, "mimeType": ""}, "redirectURL": "",
                    "headersSize": -1, "bodySize": -1, "_error": "no response captured"}
        wait = 0.0
    started = _iso(req.t)
    notes = list(req.notes) + (list(resp.notes) if resp else [])
    if started is None:  # HAR requires a date: the epoch, and the time captured in a note
        started = _iso(0.0)
        notes.append(f"capture time {req.t!r} is no date; startedDateTime is the epoch")
    entry: dict[str, Any] = {
        "startedDateTime": started, "time": wait, "request": request,
        "response": response, "cache": {},
        "timings": {"send": 0, "wait": wait, "receive": 0},
        "_messageId": req.id, "_responseId": resp.id if resp else None,
        "_phase": req.phase, "_source": req.source, "_tlsVersion": req.tls_version,
        "_notes": notes, "_links": list(req.links),
    }
    if req.ip:
        entry["serverIPAddress"] = req.ip
    if req.conn:
        entry["connection"] = req.conn
    return entry


_OPCODES = {"text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}


def _ws_messages(store: MessageStore, ids: list[str]) -> list[dict[str, Any]]:
    """Chrome's ``_webSocketMessages`` for the frames of one upgraded request."""
    out: list[dict[str, Any]] = []
    for mid in ids:
        m = store.get(mid)
        opcode = _OPCODES.get(str(m.meta.get("opcode")), 2)
        try:
            data = m.body.decode("utf-8") if opcode == 1 else \
                base64.b64encode(m.body).decode("ascii")
        except UnicodeDecodeError:
            data, opcode = base64.b64encode(m.body).decode("ascii"), 2
        out.append({"type": "send" if m.direction == "out" else "receive",
                    "time": _finite(m.t),
                    "opcode": opcode, "data": data, "_messageId": m.id})
    return out


def write_har(store: MessageStore, out: IO[str]) -> int:
    """Write every request (with its response) of a store as HAR 1.2; returns entries.
    A Java HTTP record linked to the TLS message it produced appears once, as that message
    (``_links`` names the other view).
    WebSocket frames go with the request that opened them, as Chrome's
    ``_webSocketMessages``."""
    response_of: dict[str, str] = {}
    upgraded: dict[str, str] = {}
    frames_of: dict[str, list[str]] = {}
    for m in store.messages(kinds=[MessageKind.RESPONSE, MessageKind.WS_FRAME],
                            with_body=False):
        if m.kind is MessageKind.WS_FRAME:
            frames_of.setdefault(m.conn or "", []).append(m.id)
        elif m.request_id and (m.status is None or not 100 <= m.status < 200 or
                               m.status == 101):
            response_of[m.request_id] = m.id
            if m.status == 101 and m.conn:
                upgraded[m.request_id] = m.conn
    out.write('{"log": {"version": "1.2", "creator": {"name": "egress-harness", "version": ')
    out.write(json.dumps(__version__) + '}, "pages": [], "entries": [\n')
    n = 0
    for req in store.messages(kinds=[MessageKind.REQUEST]):
        if req.meta.get("stack") and req.links:
            continue  # a Java HTTP record whose bytes are in the HAR through its TLS twin
        rid = response_of.get(req.id)
        resp = store.get(rid) if rid else None
        entry = _entry(req, resp)
        conn = upgraded.get(req.id)
        if conn is not None and conn in frames_of:
            entry["_resourceType"] = "websocket"
            entry["_webSocketMessages"] = _ws_messages(store, frames_of.pop(conn))
        out.write((",\n" if n else "") + json.dumps(entry, ensure_ascii=False))
        n += 1
    out.write("\n]}}\n")
    return n


def export_har(run_dir: Path | str, dest: Path) -> int:
    with MessageStore.open(run_dir) as store, open(dest, "w", encoding="utf-8") as fh:
        return write_har(store, fh)


# --- reading ------------------------------------------------------------------------------


def _body(obj: dict[str, Any], path: str, where: str) -> bytes:
    text = obj.get("text")
    if not isinstance(text, str):
        params = obj.get("params")
        if isinstance(params, list) and params:
            return utf8("&".join(f"{p.get('name', '')}={p.get('value', '')}" for p in params
                                 if isinstance(p, dict)))
        return b""
    if obj.get("encoding") == "base64":
        try:
            return base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise InputError(f"bad base64 body: {exc}", path=path, field=where) from exc
    return text.encode("utf-8", "surrogatepass")


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # "http://[::1", a port that is not a number...
        return None


def _number(value: Any, default: float) -> float:
    """A JSON number as a finite float, else ``default``: an integer no float holds
    (``1`` and 400 zeros) or ``NaN``/``Infinity``/``1e999`` (which Python's JSON reader
    accepts) would crash, or reach a JSON output that cannot carry it."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return default
    try:
        number = float(value)
    except OverflowError:
        return default
    return number if math.isfinite(number) else default


def _hdrs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        return ()
    return tuple((str(h.get("name", "")), str(h.get("value", ""))) for h in value
                 if isinstance(h, dict))


def _time(value: Any) -> float:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def read_har(path: Path | str) -> Iterator[Message]:
    """Messages of a HAR file: a request and (when present) a response per entry."""
    p = str(path)
    data = read_json_file(path, encoding="utf-8-sig")
    log = data.get("log") if isinstance(data, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise InputError("not a HAR file (no log.entries)", path=p, field="log.entries")
    n = 0
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("request"), dict):
            raise InputError("entry without a request", path=p, field=f"log.entries[{i}]")
        rq, rs = e["request"], e.get("response")
        t = _time(e.get("startedDateTime"))
        url = str(rq.get("url", ""))
        host = _host(url)
        ip = e.get("serverIPAddress") if isinstance(e.get("serverIPAddress"), str) else None
        phase = e.get("_phase") if isinstance(e.get("_phase"), str) else None
        n += 1
        req_id = f"m{n}"
        post = rq.get("postData")
        yield Message(
            id=req_id, kind=MessageKind.REQUEST, t=t, direction="out", source="har",
            phase=phase, protocol=str(rq.get("httpVersion") or "") or None, host=host, ip=ip,
            method=str(rq.get("method") or "GET"), url=url, headers=_hdrs(rq.get("headers")),
            body=_body(post, p, f"log.entries[{i}].request.postData")
            if isinstance(post, dict) else b"",
            meta={"har_entry": i},
        )
        ws = e.get("_webSocketMessages")
        for w in ws if isinstance(ws, list) else []:
            if not isinstance(w, dict) or not isinstance(w.get("data"), str):
                continue
            n += 1
            binary = w.get("opcode") != 1
            data = str(w["data"])
            yield Message(
                id=f"m{n}", kind=MessageKind.WS_FRAME, t=_number(w.get("time"), t),
                direction="out" if w.get("type") == "send" else "in", source="har",
                phase=phase, protocol="websocket", host=host, ip=ip, url=url,
                body=_body({"text": data, "encoding": "base64" if binary else None}, p,
                           f"log.entries[{i}]._webSocketMessages"),
                request_id=req_id, meta={"har_entry": i},
            )
        if isinstance(rs, dict) and rs.get("status"):
            n += 1
            content = rs.get("content")
            yield Message(
                id=f"m{n}", kind=MessageKind.RESPONSE, t=t, direction="in", source="har",
                phase=phase, protocol=str(rs.get("httpVersion") or "") or None, host=host,
                ip=ip, url=url, status=status_code(rs.get("status")),
                headers=_hdrs(rs.get("headers")),
                body=_body(content, p, f"log.entries[{i}].response.content")
                if isinstance(content, dict) else b"",
                request_id=req_id, meta={"har_entry": i},
            )

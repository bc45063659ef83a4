"""The agent → harness channel: Frida's message callback, turned into typed batches.

The callback never raises and never blocks: it decodes a message into rows ready for the
run dir (native records resolved to connection ids and hook names), puts them on a queue and
returns. A malformed message becomes a :class:`ProtocolError` item on the same queue, with
the raw text and data, so nothing the agent sent is lost and nothing crashes.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.capture.writer import EventRow
from harness.protocol import (
    JSON,
    Batch,
    Layer,
    NativeKind,
    NativeRecord,
    ProtocolViolation,
    RecordKind,
    RingStats,
    agent_pid,
    conn_id,
    decode_batch,
    is_int64,
)
from harness.protocol_native import (
    decode_conn_info,
    decode_connect,
    decode_dns,
    decode_http_call,
    decode_sock,
)
from harness.text import is_digits

log = logging.getLogger(__name__)

_NATIVE_STREAM: Mapping[NativeKind, tuple[Layer, str]] = {
    NativeKind.TLS_OUT: (Layer.TLS, "out"),
    NativeKind.TLS_IN: (Layer.TLS, "in"),
    NativeKind.TCP_OUT: (Layer.TCP, "out"),
    NativeKind.TCP_IN: (Layer.TCP, "in"),
    NativeKind.UDP_OUT: (Layer.UDP, "out"),
    NativeKind.UDP_IN: (Layer.UDP, "in"),
}


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    pid: int
    seq: int
    received: float
    rows: tuple[EventRow, ...]
    connections: tuple[dict[str, JSON], ...]
    hooks: tuple[Mapping[str, JSON], ...]
    """The batch's ``hook`` records (coverage), for run.json's health."""
    ring: RingStats | None = None
    """The process's native ring loss counters as of this batch (cumulative)."""
    message: Mapping[str, object] | None = None
    data: bytes | None = None
    """The message and data as the agent sent them: if the store refuses what the decoder
    let through, the batch is kept as a protocol error with these, as a refused one is."""
    agent: int = 0
    """Which agent loaded into ``pid`` sent it: 0 the first, then 1, 2... (a process that
    execs keeps its pid and gets a new agent, which numbers its batches and connections
    from 0 again). The session knows it per script (:meth:`Channel.on_message`)."""


@dataclass(frozen=True, slots=True)
class ProtocolError:
    pid: int | None
    received: float
    error: str
    message: str | None
    data: bytes | None


@dataclass(frozen=True, slots=True)
class Detached:
    pid: int
    reason: str
    received: float


@dataclass(frozen=True, slots=True)
class Marker:
    """A harness-side timeline note (phase boundary, failed step), ordered with the data."""

    kind: str
    name: str
    detail: Mapping[str, JSON]
    t: float


@dataclass(frozen=True, slots=True)
class Stop:
    """Tells the consumer that nothing follows."""


ChannelItem = DecodedBatch | ProtocolError | Detached | Marker | Stop


@dataclass
class Channel:
    """Receives agent messages from every session of a capture; one consumer drains it."""

    items: queue.SimpleQueue[ChannelItem] = field(default_factory=queue.SimpleQueue)
    _hooks: dict[tuple[int, int, int], tuple[str, str | None]] = field(default_factory=dict)
    """(pid, agent, hook index) → (hook name, target module), from ``hook`` records."""
    _paths: dict[tuple[int, int, str, int], tuple[JSON, JSON]] = field(default_factory=dict)
    """(pid, agent, hook name, call path key) → (frames, sender), from ``call-path``
    records."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on_message(self, message: Mapping[str, object], data: bytes | None,
                   agent: int = 0) -> None:
        """Frida's ``script.on('message')`` callback. Never raises. ``agent``: which script
        loaded into the process this is (0 the first; the session binds it per script)."""
        now = time.time()
        try:
            kind = message.get("type")
            if kind == "send":
                payload = message.get("payload")
                if not isinstance(payload, dict):
                    raise ProtocolViolation(f"payload is not an object: {payload!r:.80}")
                self.items.put(self._decode(decode_batch(payload, data), now, message, data,
                                            agent))
            elif kind == "error":
                # kept whole, as JSON: description, stack, file and line (a description can
                # quote app data with a lone surrogate, which JSON keeps as its escape)
                self.items.put(ProtocolError(None, now, "agent-exception", message_text(message),
                                             None))
            else:
                raise ProtocolViolation(f"unknown message type {kind!r}")
        except ProtocolViolation as exc:
            self.items.put(ProtocolError(_pid_of(message), now, str(exc),
                                         message_text(message), data))
        except Exception as exc:
            log.exception("agent message could not be handled")
            self.items.put(ProtocolError(_pid_of(message), now, f"internal: {exc!r}",
                                         message_text(message), data))

    def on_detached(self, pid: int, reason: str) -> None:
        self.items.put(Detached(pid, reason, time.time()))

    def on_child(self, pid: int, parent: int, origin: str) -> None:
        """Frida announced a child (``origin`` "fork", "exec" or "spawn"): a ``child`` marker."""
        self.items.put(Marker("child", str(pid), {"parent": parent, "origin": origin},
                              time.time()))

    def _hook(self, pid: int, agent: int, index: int) -> tuple[str, str | None]:
        with self._lock:
            return self._hooks.get((pid, agent, index), (f"native#{index}", None))

    def _decode(self, batch: Batch, received: float, message: Mapping[str, object],
                data: bytes | None, agent: int = 0) -> DecodedBatch:
        rows: list[EventRow] = []
        conns: list[dict[str, JSON]] = []
        hooks: list[Mapping[str, JSON]] = []
        pid = batch.pid
        for r in batch.records:
            if r.kind == RecordKind.HOOK:
                hooks.append(r.fields)
                index, name = r.fields.get("index"), r.fields.get("name")
                target = r.fields.get("target")
                if isinstance(index, int) and isinstance(name, str):
                    with self._lock:
                        self._hooks[(pid, agent, index)] = (
                            name, target if isinstance(target, str) else None)
            if r.kind == RecordKind.CALL_PATH:
                key = r.fields.get("key")
                if isinstance(key, str) and is_digits(key):
                    self._paths[(pid, agent, r.hook, int(key))] = (
                        r.fields.get("frames"), r.fields.get("sender"))
            # the agent's own ids (connId, call ids) already name its instance in the pid
            # (init config ``agent``), so a later agent's, counted from 0 again, are distinct
            conn = r.conn
            if r.kind == RecordKind.CONN and conn is not None:
                conns.append({"conn": conn, "pid": pid, "first_t": r.t, **r.fields})
            rows.append(EventRow(
                t=r.t, kind=r.kind.value, hook=r.hook, pid=pid, tid=r.tid, conn=conn,
                direction=r.direction.value if r.direction else None, data=r.body,
                orig_len=r.orig_len, truncated=r.truncated, fields=dict(r.fields)))
        # Per batch, a connection's id, a hook's name and a stream's fields are the same for
        # thousands of records: resolved once each (this loop runs per record at full rate).
        hook_names: dict[int, tuple[str, str | None]] = {}
        conn_ids: dict[tuple[Layer, int], str] = {}
        stream_fields: dict[tuple[Layer, int], Mapping[str, JSON]] = {}
        stream = RecordKind.STREAM.value
        for n in batch.native:
            t = n.t_ns / 1e9
            names = hook_names.get(n.hook)
            if names is None:
                names = hook_names[n.hook] = self._hook(pid, agent, n.hook)
            hook, library = names
            if n.kind == NativeKind.CONN_INFO:
                info = decode_conn_info(n.body)
                layer = str(info.get("layer") or Layer.TLS.value)
                cid = conn_id(pid, layer, n.handle, agent)
                conns.append({"conn": cid, "pid": pid, "first_t": t, "library": library, **info})
                rows.append(EventRow(t=t, kind=RecordKind.CONN.value, hook=hook, pid=pid,
                                     tid=n.tid, conn=cid, fields=info))
                continue
            if n.kind in (NativeKind.CONNECT, NativeKind.UDP_BLOCKED, NativeKind.DNS):
                rows.append(self._socket_row(n, pid, t, hook, agent))
                continue
            if n.kind == NativeKind.HTTP_CALL:
                rows.extend(self._http_call(n, pid, t, hook, agent))
                continue
            layer_dir = _NATIVE_STREAM.get(n.kind)
            if layer_dir is None:
                raise ProtocolViolation(f"native kind {n.kind} has no meaning here")
            slayer, direction = layer_dir
            ckey = (slayer, n.handle)
            scid = conn_ids.get(ckey)
            if scid is None:
                scid = conn_ids[ckey] = conn_id(pid, slayer, n.handle, agent)
            fkey = (slayer, n.fd)
            fields = stream_fields.get(fkey)
            if fields is None:
                fields = stream_fields[fkey] = {"layer": slayer.value, "fd": n.fd}
            rows.append(EventRow(t, stream, hook, pid, n.tid, scid, direction, n.body,
                                 n.orig_len, n.truncated, fields))
        return DecodedBatch(pid, batch.seq, received, tuple(rows), tuple(conns), tuple(hooks),
                            batch.ring, message, data, agent)

    def _http_call(self, n: NativeRecord, pid: int, t: float, hook: str,
                   agent: int = 0) -> list[EventRow]:
        """A Java HTTP call recorded in C as the request and response ``http`` records the
        JS path writes (java/okhttp.ts), attributed through its announced call path."""
        call = decode_http_call(n.body)
        q, r = call.request, call.response
        attribution = self._paths.get((pid, agent, hook, call.key))
        if attribution is None:
            # The agent announces a path before citing it (same or earlier batch): a record
            # citing an unknown one is kept, unattributed, and the gap recorded.
            self.items.put(ProtocolError(pid, time.time(),
                                         f"{hook}: call path {call.key} was never announced",
                                         f"http-call {call.number}", n.body))
            attribution = ([], None)
        frames, sender = attribution
        stack = "okhttp3"
        cid = f"{stack}:{agent_pid(pid, agent)}:{call.number}"
        conn = conn_id(pid, Layer.TLS, n.handle, agent) if n.handle else None
        protocol = q.get("protocol", r.get("protocol"))
        request = {"stack": stack, "phase": "request", "call": cid, "url": q.get("url"),
                   "method": q.get("method"), "headers": q.get("headers"),
                   "protocol": protocol, "frames": frames, "sender": sender}
        response = {"stack": stack, "phase": "response", "call": cid, "url": q.get("url"),
                    "status": r.get("code"), "protocol": protocol,
                    "headers": r.get("headers"), "frames": frames, "sender": sender}
        body = call.body
        return [
            EventRow(call.t_ms / 1000, RecordKind.HTTP.value, hook, pid, n.tid, conn, "out",
                     body, len(body) if body is not None else None, False, request),
            EventRow(t, RecordKind.HTTP.value, hook, pid, n.tid, conn, "in", None, None, False,
                     response),
        ]

    @staticmethod
    def _socket_row(n: NativeRecord, pid: int, t: float, hook: str, agent: int) -> EventRow:
        """A native connect, refused UDP send or name lookup as its JSON record kind. (A
        connect makes no connection row: a TCP connection gets one, from a CONN_INFO, when
        its first bytes show it is plaintext; one that carries TLS is the TLS hooks'.)"""
        if n.kind == NativeKind.DNS:
            return EventRow(t=t, kind=RecordKind.DNS.value, hook=hook, pid=pid, tid=n.tid,
                            fields=decode_dns(n.body))
        if n.kind == NativeKind.UDP_BLOCKED:
            info = decode_sock(n.body)
            fields = {k: info[k] for k in ("peer_ip", "peer_port", "fd")}
            return EventRow(t=t, kind=RecordKind.UDP_BLOCKED.value, hook=hook, pid=pid,
                            tid=n.tid, fields=fields)
        info = decode_connect(n.body)
        cid = conn_id(pid, str(info["layer"]), n.handle, agent)
        fields = {k: info[k] for k in ("fd", "family", "transport", "peer_ip", "peer_port",
                                       "result", "errno")}
        return EventRow(t=t, kind=RecordKind.CONNECT.value, hook=hook, pid=pid, tid=n.tid,
                        conn=cid, fields=fields)


def _pid_of(message: Mapping[str, object]) -> int | None:
    payload = message.get("payload")
    if isinstance(payload, dict):
        pid = payload.get("pid")
        if is_int64(pid):
            return pid
    return None


def message_text(message: Mapping[str, object]) -> str:
    """An agent message as JSON text, whole, to keep it as a protocol error's evidence.

    Not cut: the records are members of the message, so a cut loses records for good (the
    agent caps a batch's body bytes, not its JSON). Nested deeper than json's encoder can go
    here (it recurses per level, and this runs frames deeper than Frida's json.loads did),
    it is written without recursion."""
    try:
        return json.dumps(message, default=repr)
    except RecursionError:
        return _json_without_recursion(message)
    except (TypeError, ValueError):  # a circular reference (not from Frida) or a bad key
        return repr(message)


def _json_without_recursion(value: object) -> str:
    """``json.dumps(value, default=repr)`` with an explicit stack instead of recursion."""
    out: list[str] = []
    todo: list[tuple[int, object]] = [(_VALUE, value)]
    path: set[object] = set()  # ids of the containers being written: a cycle stops there
    while todo:
        what, v = todo.pop()
        if what == _TEXT:
            out.append(str(v))
        elif what == _CLOSED:
            path.discard(v)
        elif isinstance(v, Mapping | list | tuple):
            if id(v) in path:
                out.append('"<circular reference>"')
                continue
            path.add(id(v))
            todo.append((_CLOSED, id(v)))
            if isinstance(v, Mapping):
                items = list(v.items())
                todo.append((_TEXT, "}"))
                for i in reversed(range(len(items))):
                    key, x = items[i]
                    todo.append((_VALUE, x))
                    todo.append((_TEXT, (", " if i else "")
                                 + json.dumps(key if isinstance(key, str) else str(key)) + ": "))
                todo.append((_TEXT, "{"))
            else:
                todo.append((_TEXT, "]"))
                for i in reversed(range(len(v))):
                    todo.append((_VALUE, v[i]))
                    if i:
                        todo.append((_TEXT, ", "))
                todo.append((_TEXT, "["))
        else:
            out.append(json.dumps(v, default=repr))
    return "".join(out)


_VALUE, _TEXT, _CLOSED = range(3)

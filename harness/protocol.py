"""THE message schema between the Frida agent (hooks/) and the harness.

Everything the agent tells the harness is defined here, once. ``hooks/src/protocol.ts`` is
generated from this module (``python -m harness.protocol_ts > hooks/src/protocol.ts``, see
:mod:`harness.protocol_ts`; CI fails
when the two drift), and the agent reports ``ABI_VERSION`` through ``rpc.exports.abiVersion``:
the harness refuses an agent whose number differs.

Wire shape. The agent calls ``send(message, data)`` only from ``emit.ts``. ``message`` is a
JSON object tagged by ``type``; bodies never travel as base64 inside JSON, they are slices of
the binary ``data`` argument, referenced as ``[offset, length]``.

- ``{"type": "batch", "abi", "pid", "seq", "records": [...], "native": [off, len] | null}``:
  facts. ``seq`` counts batches per agent (per process) from 0 without holes, so the harness
  can tell a lost batch. ``records`` are JSON records (below); ``native`` is a slice of
  ``data`` holding packed native records written by the CModule hot path (layout
  ``NATIVE_HEADER``).
- ``{"type": "error", ...}``: Frida's own error message for an uncaught exception in the
  agent (``description``, ``stack``); recorded, never fatal.

Python-side, :func:`decode_batch` turns one message + data into typed :class:`Record` values;
anything that does not fit raises :class:`ProtocolViolation`, which the channel records as a
protocol error (never lost, never a crash). What a record must satisfy beyond its JSON shape
(integers within int64, text without lone surrogates, lengths that agree with the bytes) is
checked in :mod:`harness.protocol_checks`.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import NamedTuple, TypeAlias

# The checks lived here until they got a module of their own: re-exported ("X as X").
from harness.protocol_checks import FIELD_CHECKS as FIELD_CHECKS
from harness.protocol_checks import INT64_MAX as INT64_MAX
from harness.protocol_checks import ProtocolViolation as ProtocolViolation
from harness.protocol_checks import (
    check_fields,
    record_ids,
    record_lengths,
    record_seconds,
)
from harness.protocol_checks import is_int64 as is_int64
from harness.protocol_checks import is_name as is_name

ABI_VERSION = 5
"""Bump on any change a running agent and harness must agree on. 5: the agent writes its
instance into the ids it makes (init config ``agent``; :func:`agent_pid`)."""

JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None


class RecordKind(StrEnum):
    """What a record states. Namespaced by layer where it helps reading a capture."""

    STREAM = "stream"
    """Bytes on a connection: TLS plaintext, plain TCP payload, or a UDP datagram."""
    CONN = "conn"
    """Facts about a connection, once: fd, addresses, SNI, TLS version, cipher, ALPN."""
    CONNECT = "connect"
    """A connect() call: destination and result."""
    DNS = "dns"
    """A name lookup: the name asked and the addresses returned."""
    UDP_BLOCKED = "udp-blocked"
    """A UDP send to port 443/80 the agent made fail, so QUIC falls back to TCP."""
    HOOK = "hook"
    """Coverage: one hook table entry installed, skipped or failed, with the reason."""
    HTTP = "http"
    """A request or response seen in a Java HTTP stack (OkHttp, HttpURLConnection...)."""
    SDK = "sdk"
    """A call into an analytics SDK entry point, with its event and properties."""
    TRANSFORM = "transform"
    """An encoder or cipher call: input bytes to output bytes (Base64, GZIP, Cipher)."""
    PAGE = "page"
    """A page load or script call seen in a WebView."""
    LOG = "log"
    """A message from the agent for the operator (not a fact about the app)."""
    AGENT_ERROR = "agent-error"
    """An exception inside a hook, caught and reported."""
    PROCESS = "process"
    """A process event seen by the agent: ``event`` "reaped", a child the process waited
    for (``child`` pid, raw wait ``status`` or null), recorded when children are followed,
    so a child that never reported to the harness is seen as lost."""
    CALL_PATH = "call-path"
    """The attribution (``frames``, ``sender``) of one Java call path, announced once per
    ``key`` (a hash of the thread's Java frames, as decimal text) by the hook named in
    ``hook``: native ``HTTP_CALL`` records of that hook cite it by key."""


class Direction(StrEnum):
    OUT = "out"
    """What the app sent."""
    IN = "in"
    """What the app received."""


class Layer(StrEnum):
    TLS = "tls"
    TCP = "tcp"
    UDP = "udp"


class HookStatus(StrEnum):
    INSTALLED = "installed"
    SKIPPED = "skipped"
    FAILED = "failed"


# --- native records (the CModule hot path) ---------------------------------------------


class NativeKind(IntEnum):
    """``kind`` of a packed native record."""

    TLS_OUT = 1
    TLS_IN = 2
    TCP_OUT = 3
    TCP_IN = 4
    UDP_OUT = 5
    UDP_IN = 6
    CONN_INFO = 7
    """Facts about a TLS connection gathered in C on first sight (the SSL object may be
    freed before JS could ask). Body: ``CONN_INFO_FORMAT`` then NUL-terminated SNI,
    protocol version and cipher name (``harness.protocol_native.decode_conn_info``). Also a
    plain TCP connection or a UDP peer (``CONN_LAYERS`` code in the header's reserved member)."""
    CONNECT = 8
    """A ``connect()`` call on an IPv4/IPv6 socket: ``CONN_INFO_FORMAT`` then
    ``CONNECT_RESULT`` (return value, errno); ``handle`` is the connection it opened."""
    UDP_BLOCKED = 9
    """A UDP send to port 443/80 the agent refused (``blockQuic``): ``CONN_INFO_FORMAT``
    with the destination as peer."""
    DNS = 10
    """A ``getaddrinfo`` call: ``DNS_FORMAT``, the NUL-terminated name, then ``count``
    ``DNS_ADDRESS`` entries (duplicates removed in C)."""
    HTTP_CALL = 11
    """One Java HTTP call (request and response) recorded in C (java/okhttp_c.ts):
    ``HTTP_CALL_FORMAT``, the JSON text, then the request body; ``handle`` is the Java TLS
    connection's number (0: none). ``harness.protocol_native.decode_http_call`` reads it; the
    channel makes it the two ``http`` records the JS path writes."""


NATIVE_FLAG_TRUNCATED = 1
"""The body was cut to the size cap; ``orig_len`` says how long it was."""

NATIVE_HEADER = struct.Struct("<IHHIiQQIIHHI")
"""Packed little-endian header, 48 bytes, followed by ``cap_len`` bytes, padded to 8:
size (whole record), kind, flags, tid, fd, handle, t_ns (CLOCK_REALTIME),
orig_len, cap_len, hook (the ``index`` of a ``hook`` record), reserved, reserved.

``handle`` is the agent's connection number: assigned on first sight of an SSL object or
socket, unique within the agent's process, never reused. The connection's id everywhere
(JSON records, the run dir) is :func:`conn_id` of it."""

NATIVE_ALIGN = 8

CONN_INFO_FORMAT = struct.Struct("<HHHHi16s16s")
"""family (2 = IPv4, 10 = IPv6, 0 = unknown), local port, peer port, layer
(``CONN_LAYERS``), fd, local address, peer address (network order, IPv4 in the first 4
bytes)."""

CONN_LAYERS: Mapping[int, Layer] = {0: Layer.TLS, 1: Layer.TCP, 2: Layer.UDP}
"""The layer code in a CONN_INFO/CONNECT/UDP_BLOCKED body (0 for TLS keeps old bodies valid)."""

CONNECT_RESULT = struct.Struct("<ii")
DNS_FORMAT = struct.Struct("<iHH")
"""getaddrinfo's return value, number of addresses, reserved."""
DNS_ADDRESS = struct.Struct("<H16s")
"""family, address (network order, IPv4 in the first 4 bytes)."""
HTTP_CALL_FORMAT = struct.Struct("<QQqIi")
"""The call path's key (a ``call-path`` record's), the call's number (its ``call`` id is
``<stack>:<pid>:<number>``), when the call began (ms since the epoch), the JSON text's
length, the request body's length (-1: no body). The JSON text is
``{"q": {"url", "method", "headers", "protocol"}, "r": {"code", "headers", "protocol"}, ...}``
(the C entry's reads; other members are ignored)."""


class NativeRecord(NamedTuple):
    """One record of a native slice. A NamedTuple, not a dataclass: thousands are made per
    batch at full rate, and a frozen dataclass's __init__ cost 3x as much (decode_native)."""

    kind: NativeKind
    truncated: bool
    tid: int
    fd: int
    handle: int
    t_ns: int
    orig_len: int
    hook: int
    body: bytes


# --- typed records ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Record:
    """One fact from the agent. Common fields here; kind-specific ones in ``fields``.

    ``fields`` holds the JSON members the kind defines (see ``KIND_FIELDS``) and nothing
    the harness does not know, so readers may rely on it.
    """

    kind: RecordKind
    t: float
    """Seconds since the epoch (wall clock of the target)."""
    pid: int
    tid: int | None
    hook: str
    """Which hook saw it, e.g. ``native.tls.SSL_write_ex`` or ``java.okhttp3.RealCall``."""
    conn: str | None = None
    """Connection id, unique in the run: ``<pid>:<layer>:<handle-hex>:<generation>``."""
    direction: Direction | None = None
    body: bytes | None = None
    orig_len: int | None = None
    """Length before truncation; equals ``len(body)`` when nothing was cut."""
    truncated: bool = False
    fields: Mapping[str, JSON] = field(default_factory=dict)


KIND_FIELDS: Mapping[RecordKind, tuple[str, ...]] = {
    RecordKind.STREAM: ("layer",),
    RecordKind.CONN: (
        "layer", "fd", "transport", "local_ip", "local_port", "peer_ip", "peer_port",
        "sni", "tls_version", "cipher", "alpn", "library",
        # Java TLS (java/tlsconn.ts): the SSL* address and fd link a Conscrypt connection to
        # the native hooks' view; ``plaintext`` says which view carries its stream records.
        "ssl", "peer_host", "java_class", "plaintext",
    ),
    RecordKind.CONNECT: ("fd", "family", "transport", "peer_ip", "peer_port", "result", "errno"),
    RecordKind.DNS: ("name", "addresses", "result"),
    RecordKind.UDP_BLOCKED: ("peer_ip", "peer_port", "fd"),
    RecordKind.HOOK: ("name", "status", "target", "reason", "group", "index"),
    RecordKind.HTTP: (
        "stack", "phase", "call", "url", "method", "headers", "status", "protocol",
        "frames", "sender",
    ),
    RecordKind.SDK: ("sdk", "method", "event", "properties", "frames", "sender"),
    RecordKind.TRANSFORM: (
        "op", "algorithm", "call", "input", "output", "frames",
        "sender", "mode", "key_bits",
    ),
    RecordKind.PAGE: ("api", "method", "url", "frames", "sender"),
    RecordKind.LOG: ("level", "message"),
    RecordKind.AGENT_ERROR: ("message", "stack", "where"),
    RecordKind.PROCESS: ("event", "child", "status"),
    RecordKind.CALL_PATH: ("key", "frames", "sender"),
}
"""Kind-specific JSON members. ``transform`` carries ``input``/``output`` as ``[off, len]``
slices of the batch data like ``body``; :func:`decode_record` turns them into base64 text,
so the stored record keeps the bytes (the batch data does not outlive the batch)."""

COMMON_FIELDS = ("k", "t", "tid", "hook", "conn", "dir", "body", "olen", "trunc")


JAVA_CONN_BASE = 1 << 32
"""Java-layer connection numbers (JSSE, Conscrypt objects) start here, so they never collide
with the native hooks' numbers (counted from 0) in the same process."""


def conn_id(pid: int, layer: Layer | str, number: int, agent: int = 0) -> str:
    """The id of a connection in a run: ``<pid>:<layer>:<agent connection number>``, with
    the pid written ``<pid>.<agent>`` for a later agent in the same process (``agent`` > 0:
    after an exec, whose new agent numbers its connections from 0 again)."""
    return f"{agent_pid(pid, agent)}:{Layer(layer).value}:{number}"


def agent_pid(pid: int | str, agent: int) -> str:
    """How ids made from a pid name it for the agent's ``agent``-th instance in that process
    (:func:`conn_id`, call ids): the pid itself for the first, ``<pid>.<agent>`` after. The
    harness writes it into the ids it makes (native connections, C-recorded calls), the agent
    into its own (Java connections, HTTP calls, transforms; ``agentPid`` in protocol.ts),
    from the instance the session gives it in ``init(config)``."""
    return f"{pid}" if agent == 0 else f"{pid}.{agent}"


@dataclass(frozen=True, slots=True)
class RingStats:
    """The native ring's loss counters, cumulative for the process, sent in every batch
    (``"ring": {"drops", "droppedBytes", "waits"}``; null when the native hooks are off):
    records dropped after the wait limit, their bytes, and how often a hooked thread waited
    for a drain because both buffers were full."""

    drops: int
    dropped_bytes: int
    waits: int


@dataclass(frozen=True, slots=True)
class Batch:
    pid: int
    seq: int
    records: tuple[Record, ...]
    native: tuple[NativeRecord, ...]
    ring: RingStats | None = None


def _ring_stats(value: JSON) -> RingStats | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolViolation(f"ring: expected an object, got {value!r:.80}")
    counts = [value.get(k) for k in ("drops", "droppedBytes", "waits")]
    if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
        raise ProtocolViolation(f"ring: counters must be non-negative integers: {value!r:.120}")
    drops, dropped, waits = (int(c) for c in counts if isinstance(c, int))
    return RingStats(drops, dropped, waits)


def _slice(data: bytes, ref: JSON, what: str) -> bytes:
    if not (isinstance(ref, list) and len(ref) == 2 and all(isinstance(x, int) for x in ref)):
        raise ProtocolViolation(f"{what}: expected [offset, length], got {ref!r}")
    off, length = ref
    assert isinstance(off, int)
    assert isinstance(length, int)
    if off < 0 or length < 0 or off + length > len(data):
        raise ProtocolViolation(f"{what}: slice [{off}, {length}] outside data of {len(data)}")
    return data[off : off + length]


def decode_native(blob: bytes) -> list[NativeRecord]:
    """Unpack the CModule's packed records. Raises ProtocolViolation on any inconsistency."""
    # Per record at full rate (~1 µs each here, was ~3 µs): everything looked up once.
    out: list[NativeRecord] = []
    append = out.append
    unpack = NATIVE_HEADER.unpack_from
    kinds = _NATIVE_KINDS
    make = NativeRecord
    end_of_blob = len(blob)
    hsize = NATIVE_HEADER.size
    pos = 0
    while pos < end_of_blob:
        if pos + hsize > end_of_blob:
            raise ProtocolViolation(f"native record header cut at {pos}")
        (size, kind, flags, tid, fd, handle, t_ns, orig_len, cap_len, hook, _r1, _r2) = (
            unpack(blob, pos)
        )
        end = pos + size
        if size < hsize + cap_len or end > end_of_blob or size % NATIVE_ALIGN:
            raise ProtocolViolation(f"native record at {pos}: bad size {size} (cap {cap_len})")
        nkind = kinds.get(kind)
        if nkind is None:
            raise ProtocolViolation(f"native record at {pos}: unknown kind {kind}")
        # the agent cuts a body to cap_len and flags it only then: lengths that say
        # otherwise would feed the byte coverage verdicts compare with the kernel's count
        truncated = orig_len > cap_len
        if bool(flags & NATIVE_FLAG_TRUNCATED) != truncated or orig_len < cap_len:
            raise ProtocolViolation(
                f"native record at {pos}: orig_len {orig_len}, cap_len {cap_len} and the "
                f"truncated flag ({flags & NATIVE_FLAG_TRUNCATED}) disagree")
        start = pos + hsize
        append(make(nkind, truncated, tid, fd, handle, t_ns, orig_len, hook,
                    blob[start : start + cap_len]))
        pos = end
    return out


_NATIVE_KINDS: dict[int, NativeKind] = {k.value: k for k in NativeKind}


def decode_record(pid: int, raw: JSON, data: bytes) -> Record:
    if not isinstance(raw, dict):
        raise ProtocolViolation(f"record is not an object: {raw!r:.80}")
    k = raw.get("k")
    try:
        kind = RecordKind(k) if isinstance(k, str) else RecordKind("")
    except ValueError:
        raise ProtocolViolation(f"unknown record kind {raw.get('k')!r}") from None
    seconds = record_seconds(kind, raw.get("t"))
    tid, hook, conn = record_ids(kind, raw.get("tid"), raw.get("hook"), raw.get("conn"))
    dir_raw = raw.get("dir")
    try:
        direction = Direction(str(dir_raw)) if dir_raw is not None else None
    except ValueError:
        raise ProtocolViolation(f"{kind}: bad dir {dir_raw!r}") from None
    body = _slice(data, raw["body"], f"{kind}.body") if raw.get("body") is not None else None
    olen, truncated = record_lengths(kind, body, raw.get("olen"), raw.get("trunc"))
    allowed = KIND_FIELDS[kind]
    extra: dict[str, JSON] = {}
    for key, value in raw.items():
        if key in COMMON_FIELDS:
            continue
        if key not in allowed:
            raise ProtocolViolation(f"{kind}: unknown field {key!r}")
        if kind == RecordKind.TRANSFORM and key in ("input", "output") and value is not None:
            value = base64.b64encode(_slice(data, value, f"{kind}.{key}")).decode("ascii")
        extra[key] = value
    check_fields(kind, extra)
    return Record(
        kind=kind, t=seconds, pid=pid, tid=tid, hook=hook, conn=conn,
        direction=direction, body=body, orig_len=olen, truncated=truncated,
        fields=extra,
    )


def decode_batch(message: Mapping[str, JSON], data: bytes | None) -> Batch:
    """Decode one ``batch`` message. Raises ProtocolViolation; never anything else."""
    try:
        if message.get("type") != "batch":
            raise ProtocolViolation(f"not a batch: type={message.get('type')!r}")
        if message.get("abi") != ABI_VERSION:
            raise ProtocolViolation(f"abi {message.get('abi')!r} != {ABI_VERSION}")
        pid, seq, records = message.get("pid"), message.get("seq"), message.get("records")
        if not (is_int64(pid) and pid >= 0 and is_int64(seq) and seq >= 0
                and isinstance(records, list)):
            raise ProtocolViolation("batch needs a pid and a seq (integers from 0 to 2**63-1) "
                                    "and a records list")
        blob = data or b""
        native_ref = message.get("native")
        native = decode_native(_slice(blob, native_ref, "native")) if native_ref else []
        decoded = tuple(decode_record(pid, r, blob) for r in records)
        return Batch(pid=pid, seq=seq, records=decoded, native=tuple(native),
                     ring=_ring_stats(message.get("ring")))
    except ProtocolViolation:
        raise
    except (TypeError, KeyError, ValueError, OverflowError, struct.error) as exc:
        raise ProtocolViolation(f"malformed batch: {exc}") from exc

"""A message: the unit the analysis cites (an HTTP request or response, a WebSocket frame, a
raw stream chunk that did not parse, a Java HTTP record, an SDK call, a DNS lookup, a datagram).

Produced by ``harness.parse`` from a run's events, stored with the run (see
``harness.parse.store``), read by the detector, the classifier, the checks and the report.
Ids are stable for a given capture (``m<N>`` in capture order), so findings, verdicts and
reports can cite them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON


class MessageKind(StrEnum):
    REQUEST = "request"
    """An HTTP request (HTTP/1.1, HTTP/2, or from a Java HTTP stack)."""
    RESPONSE = "response"
    WS_FRAME = "ws-frame"
    RAW = "raw"
    """Bytes of a stream that did not parse as a known protocol; still scanned."""
    SDK_CALL = "sdk-call"
    """An analytics SDK entry point call (event name and properties as JSON in ``body``)."""
    PAGE = "page"
    """A WebView page load or script call."""
    DNS = "dns"
    DATAGRAM = "datagram"


@dataclass(frozen=True, slots=True)
class Message:
    """One parsed message (a request, a response, a frame, a record) as analysis.sqlite holds it."""

    id: str
    kind: MessageKind
    t: float
    direction: str
    """``out`` (the app sent it) or ``in`` (the app received it)."""
    source: str
    """Which capture layer produced it: ``native.tls``, ``native.tcp``, ``java.okhttp3``..."""
    conn: str | None = None
    phase: str | None = None
    protocol: str | None = None
    """``HTTP/1.1``, ``h2``, ``websocket``, ``sensors``... as parsed."""
    host: str | None = None
    """Best name for the peer: :authority / Host / SNI / DNS answer, in that order."""
    ip: str | None = None
    port: int | None = None
    sni: str | None = None
    tls_version: str | None = None
    cipher: str | None = None
    method: str | None = None
    url: str | None = None
    status: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    """The body after content decoding (gzip, br, zstd...); raw bytes for RAW/DATAGRAM."""
    body_len_wire: int | None = None
    """Length of the body as it went over the wire (before content decoding)."""
    events: tuple[int, ...] = ()
    """Seqs of the capture events the message was built from."""
    request_id: str | None = None
    """For a response: the id of its request."""
    links: tuple[str, ...] = ()
    """Other messages that are the same traffic seen by another layer (Java ↔ native)."""
    sdk: str | None = None
    """The SDK that built the payload, where known (from an SDK hook or a verified format)."""
    frames: tuple[str, ...] = ()
    """Calling app frames (Java hooks), outermost last."""
    meta: dict[str, JSON] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    """What went wrong or was cut while parsing (truncation, bad frames, decode budget)."""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

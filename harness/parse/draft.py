"""A message being built: what the parsers return before the store gives it an id.

Parsers fill a :class:`Draft` (mutable, cheap to amend while a stream is read); the builder
stamps host and phase, the store writes it and gives it a key (the stable ``m<N>`` id once
every message is in), and the draft becomes its :class:`harness.parse.message.Message`: made
of the draft itself by the C writer's ``put`` (the two classes are laid out alike, so one
object a message is made and freed, not two), anew by the reference writer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow

if TYPE_CHECKING:  # the type only: an analysis needs none of the agent's schema
    from harness.protocol import JSON

_STATUS = re.compile(r"[1-9][0-9]{2}")


def status_code(value: object) -> int | None:
    """An HTTP status, three ASCII digits (an int, or text as HTTP/2's ``:status`` carries
    it); anything else is None, so no consumer meets it: 20 digits overflowed the store's
    INTEGER column, and int() would take " 200", "+200" and fullwidth digits."""
    if isinstance(value, str):
        return int(value) if _STATUS.fullmatch(value) else None
    return value if type(value) is int and 100 <= value <= 999 else None


@dataclass(slots=True, eq=False)
class Draft:
    """_http1.c and _hpack.c make Drafts too, setting every slot themselves (h1draft.c), and
    _store.c reads them the same way: a new field needs an entry in draftfields.h's list
    (each of those extensions refuses, at set-up, a Draft whose fields differ from it)."""

    kind: MessageKind
    t: float
    direction: str
    source: str
    first_seq: int
    """Seq of the first event the message came from: orders ids in capture order."""
    conn: str | None = None
    phase: str | None = None
    protocol: str | None = None
    host: str | None = None
    ip: str | None = None
    port: int | None = None
    sni: str | None = None
    tls_version: str | None = None
    cipher: str | None = None
    method: str | None = None
    url: str | None = None
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    body_len_wire: int | None = None
    events: tuple[int, ...] = ()
    request: Draft | None = None
    sdk: str | None = None
    frames: tuple[str, ...] = ()
    meta: dict[str, JSON] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    key: int = -1
    """Row key in the store once written (-1 before)."""

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None


def from_flow(kind: MessageKind, flow: Flow, start: int, end: int, facts: ConnFacts,
              protocol: str | None) -> Draft:
    """A draft for bytes [start, end) of ``flow``, with the connection's facts."""
    t, seq, seqs, lost = flow.span(start, end)
    d = Draft(
        kind=kind, t=t, direction=flow.direction, source=facts.source, first_seq=seq,
        conn=facts.conn, protocol=protocol, ip=facts.ip, port=facts.port, sni=facts.sni,
        tls_version=facts.tls_version, cipher=facts.cipher, events=seqs,
    )
    if lost:
        d.notes.append(truncated(lost))
    return d


def truncated(lost: int) -> str:
    """The note of a message ``lost`` of whose bytes the capture did not record."""
    return f"capture truncated: {lost} bytes of this stream were not recorded"


def raw(flow: Flow, start: int, end: int, facts: ConnFacts, note: str | None = None,
        protocol: str | None = None) -> Draft:
    """Bytes that did not parse: kept whole so they are still scanned."""
    d = from_flow(MessageKind.RAW, flow, start, end, facts, protocol)
    d.body = flow.data[start:end]
    d.body_len_wire = end - start
    if note:
        d.notes.append(note)
    return d

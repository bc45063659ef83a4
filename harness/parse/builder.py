"""Turn a run's capture into its message store (``analysis.sqlite``).

One connection at a time (so memory follows the largest connection, not the capture):
reassemble its flows, parse them, stamp host and phase, write (one C call a connection, each
draft made its own Message: :func:`put_drafts` is that call's reference). Then the records
that are messages by themselves (Java HTTP, SDK, page, DNS). Finally Java HTTP messages are
linked to the TLS messages they produced: same method, URL and body, or same connection.

:class:`MessageStream` hands the messages on as they are written (``harness analyze`` scans
them), so they are not read back from the store: one connection's messages in memory at a
time, as when only the store is built. They go as one batch (a list) per connection, so the
layers between the builder and the detector resume once a connection, not once a message.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Generator, Iterator
from dataclasses import replace

from harness.capture.rundir import CaptureReader, RunDir
from harness.parse import records
from harness.parse.bodyref import STAMP_KEY, capture_stamp
from harness.parse.connection import parse_connection, requests_first
from harness.parse.draft import Draft
from harness.parse.encoding import DEFAULT_BUDGET
from harness.parse.message import Message, MessageKind
from harness.parse.reassembly import ConnFacts, assemble_rows
from harness.parse.stamps import DnsNames, PhaseClock, Stamps, put_drafts
from harness.parse.store import ANALYSIS_DB, STORE_VERSION, StoreWriter, key_id
from harness.parse.storeread import MessageStore

log = logging.getLogger(__name__)

RECORD_KINDS = ("http", "sdk", "page", "dns")
RECORD_BATCH = 256
"""Records (messages by themselves) per batch of :meth:`MessageStream.batches`: a
connection's messages go as one batch; records come one by one and are gathered."""
SKIPPED_ROWS = "skipped_rows"
"""Store meta key: rows of capture.sqlite the build skipped as unreadable."""


def fingerprint(run: RunDir, reader: CaptureReader | None = None,
                stamp: str | None = None) -> str:
    """What the store was built from; read through ``reader`` when given (the builder's:
    its connections are read once, not again by a reader of their own), with the capture's
    file ``stamp`` when taken already."""
    info = run.load_info()
    with contextlib.nullcontext(reader) if reader is not None else run.reader() as r:
        parts = [str(STORE_VERSION), str(r.count()), str(len(r.markers())),
                 str(len(r.connections()))]
    phases = json.dumps([[p.name, p.start, p.end] for p in info.phases])
    # bodies are read from the capture (bodyref): any write to it makes the store stale
    return (":".join(parts) + ":" + hashlib.sha256(phases.encode()).hexdigest()[:16] + ":"
            + (capture_stamp(run.capture_db) if stamp is None else stamp))


def is_current(run: RunDir) -> bool:
    path = run.file(ANALYSIS_DB)
    if not path.is_file():
        return False
    try:
        with MessageStore(path) as store:
            return store.meta().get("fingerprint") == fingerprint(run)
    except Exception:  # noqa: BLE001 - any unreadable store is simply rebuilt
        return False


class _Links:
    """Link each Java-stack request to the TLS-layer request it produced (and their
    responses). Candidates, in order of strength: same method, URL and body; same
    connection, method and URL; same method and URL within ``WINDOW`` seconds. Among
    candidates the nearest in time not yet linked wins, so repeated identical requests
    pair one to one."""

    WINDOW = 30.0

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        """Only when the capture has Java HTTP records: hashing every body costs time."""
        self.by_body: dict[tuple[str, str, str], list[tuple[float, int]]] = defaultdict(list)
        self.by_conn: dict[tuple[str, str, str], list[tuple[float, int]]] = defaultdict(list)
        self.by_url: dict[tuple[str, str], list[tuple[float, int]]] = defaultdict(list)
        self.java: list[tuple[tuple[str, str, str], float, int, str | None]] = []
        self.response_of: dict[int, int] = {}

    @staticmethod
    def key(d: Draft) -> tuple[str, str, str]:
        return (d.method or "", (d.url or "").rstrip("/"),
                hashlib.sha256(d.body).hexdigest())

    def add(self, d: Draft) -> None:
        """Only where :attr:`enabled` (the builder asks once a build, before its calls)."""
        if d.kind is MessageKind.RESPONSE and d.request is not None:
            self.response_of[d.request.key] = d.key
        if d.kind is not MessageKind.REQUEST:
            return
        k = self.key(d)
        if d.source.startswith("java.") and d.meta.get("stack"):
            self.java.append((k, d.t, d.key, d.conn))
            return
        self.by_body[k].append((d.t, d.key))
        self.by_url[k[:2]].append((d.t, d.key))
        if d.conn:
            self.by_conn[(d.conn, k[0], k[1])].append((d.t, d.key))

    def write(self, w: StoreWriter) -> int:
        n = 0
        taken: set[int] = set()
        for k, t, jkey, conn in self.java:
            best: int | None = None
            for cands, window in ((self.by_body.get(k, []), None),
                                  (self.by_conn.get((conn or "", k[0], k[1]), []), None),
                                  (self.by_url.get(k[:2], []), self.WINDOW)):
                free = [(abs(ct - t), ck) for ct, ck in cands if ck not in taken
                        and (window is None or abs(ct - t) <= window)]
                if free:
                    best = min(free)[1]
                    break
            if best is None:
                continue
            taken.add(best)
            w.link(jkey, best)
            n += 1
            jr, nr = self.response_of.get(jkey), self.response_of.get(best)
            if jr is not None and nr is not None:
                w.link(jr, nr)
        return n


def build_messages(run: RunDir, budget: int = DEFAULT_BUDGET) -> int:
    """(Re)build ``analysis.sqlite`` for ``run``; returns the number of messages."""
    try:
        next(_build(run, budget, None))
    except StopIteration as built:  # without a stream nothing is yielded
        return int(built.value)
    raise AssertionError("a build without a stream yielded a message")


class MessageStream:
    """Build ``analysis.sqlite`` (as :func:`build_messages`) and yield each message as it is
    written: the messages :meth:`MessageStore.messages` would read back, but in the order
    they are built, and with key ids (``k<key>``, :func:`store.key_id`) in ``id`` and
    ``request_id``, because the store numbers messages (``m<n>``, capture order) only once
    it has them all. After the last one, :meth:`number` and :meth:`final` give the store's
    ids. ``links`` are written at the end too: a message whose ``meta`` has a ``stack`` (a
    Java HTTP stack record, what the detector and the classifier ask ``links`` of) is held
    until they are known and yielded last with them; the others carry none (:meth:`final`
    gives them theirs).

    Iterating yields messages; :meth:`batches` yields the same messages in the same order,
    a connection's (or up to :data:`RECORD_BATCH` records') at a time."""

    def __init__(self, run: RunDir, budget: int = DEFAULT_BUDGET,
                 record_batch: int = RECORD_BATCH) -> None:
        self.run = run
        self.budget = budget
        self.record_batch = record_batch
        """Records a batch (:data:`RECORD_BATCH`)."""
        self.count = 0
        self._n: list[int] | None = None
        self._links: dict[int, list[int]] = {}

    def __iter__(self) -> Iterator[Message]:
        for batch in self.batches():
            yield from batch

    def batches(self) -> Iterator[list[Message]]:
        """The messages in lists: one per connection, up to :attr:`record_batch` records
        each, and the held ones last. A list is the builder's own and is emptied when the
        next one is asked for (so one connection's messages are in memory at a time): read
        it before asking, copy it to keep it."""
        self.count = yield from _build(self.run, self.budget, self, self.record_batch)

    def _finished(self, numbers: list[int], links: dict[int, list[int]]) -> None:
        self._n, self._links = numbers, links

    @property
    def done(self) -> bool:
        return self._n is not None

    def numbers(self) -> list[int]:
        """The store's number (``m<n>``) of each key (index 0 unused)."""
        if self._n is None:
            raise RuntimeError("the messages are numbered once the stream is read to its end")
        return self._n

    def number(self, mid: str) -> int:
        """The store's number of the message with key id ``mid``."""
        return self.numbers()[int(mid[1:])]

    def final_id(self, mid: str) -> str:
        """The store's id of the message with key id ``mid``."""
        return f"m{self.number(mid)}"

    def final(self, m: Message) -> Message:
        """``m`` as :meth:`MessageStore.messages` reads it: store ids, and its links."""
        links = sorted(self.number(key_id(b)) for b in self._links.get(int(m.id[1:]), ()))
        return replace(m, id=self.final_id(m.id), links=tuple(f"m{n}" for n in links),
                       request_id=None if m.request_id is None
                       else self.final_id(m.request_id))


def _build(run: RunDir, budget: int, stream: MessageStream | None,
           record_batch: int = RECORD_BATCH) -> Generator[list[Message], None, int]:
    """Build the store, yielding its messages in batches (:meth:`MessageStream.batches`)
    when ``stream`` is given; returns how many messages there are."""
    info = run.load_info()
    count = 0
    ready: list[Message] = []
    """Messages built and not yet yielded: one connection's (or one record's)."""
    held: list[Message] = []
    """Java stack records, yielded once their links are known."""
    with contextlib.ExitStack() as stack:
        # before the capture is read: were it written meanwhile, the store is stale at once
        # and the reader refuses its references (bodyref.Bodies)
        stamp = capture_stamp(run.capture_db)
        reader = stack.enter_context(run.reader())
        # before the store is opened, as with a reader of its own
        fp = fingerprint(run, reader, stamp)
        w = stack.enter_context(StoreWriter(run.file(ANALYSIS_DB)))
        links = _Links(reader.count("http") > 0)
        clock = PhaseClock(info.phases, reader.markers())
        names = DnsNames()
        for ev in reader.events(kinds=["dns"]):
            name = ev.fields.get("name")
            if isinstance(name, str):
                names.add(ev.t, name, records.addresses(ev))
        conns = reader.connections()
        stream_conns = reader.conn_ids("stream")
        for conn, _first in stream_conns:  # DNS answers seen on the wire name addresses too
            if conn is not None and ":udp:" in conn:
                for ev in reader.events(conn=conn):
                    pkt = records.dns_packet(ev)
                    if pkt is not None and pkt.response and pkt.questions:
                        names.add(ev.t, pkt.questions[0], [a for _n, a in pkt.answers])
        names.sort()

        stamps = Stamps(clock.at, clock.gap, names.name, w.message,
                        None if stream is None else ready, held)
        # links are found from the drafts, which the C writer's put makes Messages of
        put_c = None if links.enabled else w.putter()
        linking = links if links.enabled else None

        def put(drafts: list[Draft], peer_host: str | None = None) -> None:
            nonlocal count
            if put_c is not None:
                put_c(drafts, peer_host, stamps)
            else:
                put_drafts(w, drafts, peer_host, stamps, linking)
            count += len(drafts)

        for conn, _first in stream_conns:
            peer_host = None
            if conn is None:
                events = [e for e in reader.events(kinds=["stream"]) if e.conn is None]
                if not events:
                    continue
                rows = None
            else:
                # by connection only, so SQLite walks the (conn, seq) index; a kind filter
                # makes it pick the (kind, seq) one and scan every stream event per conn
                rows = reader.stream_rows(conn)
                for e in rows.others:
                    if e.kind == "conn" and isinstance(e.fields.get("peer_host"), str):
                        # the name the app connected to (Java TLS), not in the conn table
                        peer_host = str(e.fields["peer_host"])
                if rows.first is None:
                    continue
                facts = ConnFacts.of(conn, rows.first, conns.get(conn) if conn else None)
                if facts.layer == "udp":  # datagrams, each a message: read as events
                    events = [e for e in reader.events(conn=conn) if e.kind == "stream"]
                    rows = None
            if rows is None:
                for ev in events:
                    d = records.datagram(ev)
                    if conn is None:
                        d.kind = MessageKind.RAW
                        d.notes.append("stream event without a connection id")
                    put([d])
                if ready:
                    yield ready
                    ready.clear()
                continue
            flows = assemble_rows(rows)
            del rows
            drafts = parse_connection(flows["out"], flows["in"], facts, budget)
            requests_first(drafts)  # so a response can cite its request's key
            w.use_flows(flows)  # bodies found in them are stored as references
            put(drafts, peer_host)
            w.use_flows(None)
            del drafts, flows
            if ready:
                yield ready
                ready.clear()
        # A Java request is held until its call's response (or the end): streamed body
        # chunks (``phase`` ``body``) arrive between the two and belong to it.
        pending: dict[tuple[int | None, str], tuple[Draft, list[bytes], list[int]]] = {}

        def put_request(ck: tuple[int | None, str]) -> Draft | None:
            held = pending.pop(ck, None)
            if held is None:
                return None
            req, chunks, seqs = held
            req.body = b"".join(chunks)
            req.events = tuple(seqs)
            records.finish_http(req)
            put([req])
            return req

        for ev in reader.events(kinds=list(RECORD_KINDS)):
            if ev.kind == "http":
                d = records.http(ev)
                call = d.meta.get("call")
                ck = (ev.pid, str(call)) if isinstance(call, (str, int)) else None
                if d.meta.get("java_phase") == "body":
                    if ck is not None and ck in pending:
                        req, chunks, seqs = pending[ck]
                        chunks.append(d.body)
                        seqs.extend(d.events)
                        req.notes += d.notes
                        continue
                    d.notes.append("body chunk of a call whose request was not captured")
                elif d.kind is MessageKind.REQUEST and ck is not None:
                    put_request(ck)  # a call id reused: the earlier request is complete
                    pending[ck] = (d, [d.body], list(d.events))
                    continue
                elif d.kind is MessageKind.RESPONSE and ck is not None:
                    d.request = put_request(ck)
                    if d.request is not None:
                        d.url = d.url or d.request.url
                        d.host = d.host or d.request.host
                        d.sdk = d.sdk or d.request.sdk
                records.finish_http(d)
            elif ev.kind == "sdk":
                d = records.sdk(ev)
            elif ev.kind == "page":
                d = records.page(ev)
            else:
                d = records.dns(ev)
            put([d])
            if len(ready) >= record_batch:
                yield ready
                ready.clear()
        for ck in list(pending):
            put_request(ck)
        if ready:
            yield ready
            ready.clear()
        n_links = links.write(w)
        # rows of capture.sqlite that could not be read: the verdicts count them as
        # unreadable rows (RunFacts.unreadable_rows)
        numbers = w.finish({"fingerprint": fp, STAMP_KEY: stamp,
                            "run_id": info.run_id, "messages": str(count),
                            "links": str(n_links),
                            SKIPPED_ROWS: str(sum(reader.skipped.values()))},
                           numbers=stream is not None)
    log.info("parsed %d messages (%d Java/TLS links) into %s", count, n_links, ANALYSIS_DB)
    if stream is not None and numbers is not None:
        stream._finished(numbers, w.links_of)
        if held:
            yield [replace(m, links=tuple(map(key_id, got)))
                   if (got := w.links_of.get(int(m.id[1:]))) else m for m in held]
    return count

"""The recorder: drains a :class:`~harness.agent.channel.Channel` into the run dir.

One writer thread owns the SQLite connection and commits each agent batch in its own
transaction, so a crash of the harness loses at most the batch in flight. ``run.json`` is
rewritten (atomically) at most once a second and at close, with the capture's health:
hooks installed/skipped/failed, batches, sequence gaps, protocol errors, detaches, bytes.
A gap, a detach or a protocol error is recorded, never fatal.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from harness.agent.channel import (
    Channel,
    ChannelItem,
    DecodedBatch,
    Detached,
    Marker,
    ProtocolError,
    Stop,
    message_text,
)
from harness.capture.rundir import RunDir, RunInfo
from harness.capture.writer import CaptureWriter
from harness.protocol import JSON, RingStats, is_int64

log = logging.getLogger(__name__)


@dataclass
class LiveStats:
    """What a progress display shows while capturing (read from another thread)."""

    batches: int = 0
    records: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    connections: set[str] = field(default_factory=set)
    protocol_errors: int = 0


class Recorder:
    """Context manager: starts the writer thread on enter, drains and closes on exit."""

    def __init__(self, run: RunDir, channel: Channel, *, info_interval: float = 1.0,
                 drain_timeout: float | None = None, progress_interval: float = 10.0) -> None:
        """``drain_timeout``: how long :meth:`close` lets the writer catch up (None: as long
        as it takes; Ctrl-C stops it). What is left then is not written but counted in
        health, and the run marked interrupted. ``progress_interval``: how often a long
        drain says how far it is."""
        self.run = run
        self.channel = channel
        self.info: RunInfo = run.load_info()
        self.stats = LiveStats()
        self._info_interval = info_interval
        # per agent, (pid, agent instance): a pid that execs gets a new agent, which numbers
        # its batches from 0 and has a ring of its own
        self._last_seq: dict[tuple[int, int], int] = {}
        self._ring: dict[tuple[int, int], RingStats] = {}  # counters of its latest batch
        self._hooks: dict[tuple[str, str], str] = {}
        self._reaped: dict[int, tuple[int, float, JSON]] = {}  # child -> (parent, t, status)
        self._reported: set[int] = set()  # pids that sent a batch, were detached or announced
        self._info_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="recorder", daemon=True)
        self._writer: CaptureWriter | None = None
        self._stopping = threading.Event()
        self._abandon = threading.Event()  # the writer stops taking items: close gave up
        self._drain_timeout = drain_timeout
        self._progress_interval = progress_interval

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Recorder:
        self._writer = CaptureWriter(self.run.capture_db)
        with self._info_lock:
            self.info.status = "capturing"
            self.info.started = self.info.started or time.time()
        self._save_info()
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(interrupted=isinstance(e, KeyboardInterrupt))

    def close(self, *, interrupted: bool = False, status: str | None = None) -> None:
        """Drain everything queued, write run.json, close. Never raises."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        # each step on its own: one bad value must not skip the final save
        try:
            self.channel.items.put(Stop())
            if not self._drain():
                interrupted = True
        except Exception:
            log.exception("recorder: the writer could not be drained")
            interrupted = True
        try:
            try:
                with self._info_lock:
                    self._record_lost_children()
            except Exception:
                log.exception("recorder: could not record the children lost")
            with self._info_lock:
                self.info.ended = time.time()
                self.info.status = status or ("interrupted" if interrupted else "complete")
            self._save_info()
        except Exception:
            log.exception("recorder teardown failed")
        finally:
            # never under the writer thread: closing the connection it is using crashes
            # the process inside SQLite (SIGSEGV), losing every batch not yet committed
            if self._writer is not None and not self._thread.is_alive():
                self._writer.close()

    def _drain(self) -> bool:
        """Wait for the writer to write everything queued; False if it had to stop first
        (``drain_timeout`` passed, or Ctrl-C), leaving the rest counted but not written."""
        start = time.monotonic()
        deadline = None if self._drain_timeout is None else start + self._drain_timeout
        while self._thread.is_alive():
            wait = self._progress_interval
            if deadline is not None and not self._abandon.is_set():
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                self._thread.join(wait)
            except KeyboardInterrupt:
                if self._abandon.is_set():  # a second Ctrl-C: leave the writer be
                    log.error("recorder: left writing its current batch; capture.sqlite is "
                              "left open, run.json may miss what it was writing")
                    return False
                log.warning("recorder: interrupted; what is still queued is counted as lost")
                self._abandon.set()
                continue
            if not self._thread.is_alive():
                break
            if deadline is not None and time.monotonic() >= deadline \
                    and not self._abandon.is_set():
                log.error("recorder: the writer did not catch up in %.0f s; what is still "
                          "queued is counted as lost", self._drain_timeout)
                self._abandon.set()
                continue
            # at WARNING, which the CLI shows without -v: a capture that takes minutes to
            # close must say why it has not returned
            log.warning("recorder: still writing after %.0f s, %d item(s) queued, %d "
                        "batch(es) written", time.monotonic() - start,
                        self.channel.items.qsize(), self.stats.batches)
        return not self._abandon.is_set()

    def update_info(self, change: Callable[[RunInfo], None]) -> None:
        """Apply a change to run.json's model (from any thread) and save it."""
        with self._info_lock:
            change(self.info)
        self._save_info()

    def marker(self, kind: str, name: str, detail: Mapping[str, JSON] | None = None) -> None:
        """Queue a durable timeline marker (phase boundaries, step failures)."""
        self.channel.items.put(Marker(kind, name, dict(detail or {}), time.time()))

    # --- the writer thread -----------------------------------------------------------------

    def _loop(self) -> None:
        last_info = time.monotonic()
        dirty = stopped = False
        while not self._abandon.is_set():
            try:
                item = (self.channel.items.get_nowait() if stopped
                        else self.channel.items.get(timeout=0.2))
            except queue.Empty:
                if stopped:  # everything queued before the stop marker, and since, is written
                    return
                item = None
            if isinstance(item, Stop):
                stopped = True
            elif item is not None:
                self._handle_safely(item)
                dirty = True
            if dirty and time.monotonic() - last_info >= self._info_interval:
                self._save_info()
                last_info = time.monotonic()
                dirty = False
        self._count_unwritten()

    def _handle_safely(self, item: ChannelItem) -> None:
        try:
            self._handle(item)
        except Exception:  # logged; one item must not stop the writer
            log.exception("could not record an item")

    def _count_unwritten(self) -> None:
        """What is still queued when close gives up: not written, but in health, so the
        verdicts cannot pass over it (a batch as a sequence gap, a protocol error as one)."""
        batches = records = others = 0
        while True:
            try:
                item = self.channel.items.get_nowait()
            except queue.Empty:
                break
            with self._info_lock:
                h = self.info.health
                if isinstance(item, DecodedBatch):
                    batches += 1
                    records += len(item.rows)
                    h.sequence_gaps += 1
                elif isinstance(item, ProtocolError):
                    h.protocol_errors += 1
                elif isinstance(item, Detached):
                    self._reported.add(item.pid)
                    h.detached.append({"pid": item.pid, "reason": item.reason,
                                       "t": item.received})
                elif isinstance(item, Marker):
                    others += 1
                    if item.kind == "child":
                        self._reported.add(int(item.name))
        if batches or others:
            log.error("recorder: %d batch(es) (%d records) and %d marker(s) not written",
                      batches, records, others)

    def _handle(self, item: ChannelItem) -> None:
        assert self._writer is not None
        if isinstance(item, DecodedBatch):
            try:
                self._writer.write_batch(item.pid, item.seq, item.rows, item.connections,
                                         received=item.received, agent=item.agent)
            except Exception as exc:  # noqa: BLE001 - whatever refused it, the batch is kept
                # The store refused what the decoder let through (its transaction rolled
                # back, nothing of it written): kept whole as a protocol error instead, which
                # health counts, as a batch the decoder refuses is.
                log.warning("batch %s of pid %s could not be stored (%r); kept as a protocol "
                            "error", item.seq, item.pid, exc)
                self._handle(ProtocolError(
                    item.pid, item.received, f"batch could not be stored: {exc!r:.500}",
                    None if item.message is None else message_text(item.message), item.data))
                return
            self._account(item)
        elif isinstance(item, ProtocolError):
            # counted even when it cannot be stored (a full disk): the verdicts must hear of it
            self.stats.protocol_errors += 1
            with self._info_lock:
                self.info.health.protocol_errors += 1
            self._writer.protocol_error(item.error, item.message, item.data, item.pid,
                                        item.received)
        elif isinstance(item, Detached):
            # health first: it is what the verdicts read, even if the marker cannot be written
            self._reported.add(item.pid)
            with self._info_lock:
                self.info.health.detached.append(
                    {"pid": item.pid, "reason": item.reason, "t": item.received})
            self._writer.marker("detach", str(item.pid), {"reason": item.reason},
                                t=item.received)
        elif isinstance(item, Marker):
            self._writer.marker(item.kind, item.name, item.detail, t=item.t)
            if item.kind == "child":
                self._reported.add(int(item.name))

    def _account(self, b: DecodedBatch) -> None:
        # one pass over the rows (this runs per record at full rate)
        out = inn = out_orig = inn_orig = 0
        conns: set[str] = set()
        for r in b.rows:
            if r.conn:
                conns.add(r.conn)
            if r.kind != "stream":
                if r.kind == "process" and r.fields.get("event") == "reaped":
                    child = r.fields.get("child")
                    if isinstance(child, int):
                        self._reaped.setdefault(child, (b.pid, r.t, r.fields.get("status")))
                continue
            size = len(r.data) if r.data else 0
            if r.direction == "out":
                out += size
                out_orig += r.orig_len or 0
            elif r.direction == "in":
                inn += size
                inn_orig += r.orig_len or 0
        self._reported.add(b.pid)
        st = self.stats
        st.batches += 1
        st.records += len(b.rows)
        st.bytes_out += out
        st.bytes_in += inn
        st.connections.update(conns)
        with self._info_lock:
            h = self.info.health
            h.batches += 1
            h.records += len(b.rows)
            h.bytes_hooked_out += out_orig
            h.bytes_hooked_in += inn_orig
            agent_key = (b.pid, b.agent)
            last = self._last_seq.get(agent_key)
            expected = 0 if last is None else last + 1
            if b.seq > expected:
                h.sequence_gaps += b.seq - expected
            self._last_seq[agent_key] = max(b.seq, last if last is not None else -1)
            if b.ring is not None and b.seq >= self._last_seq[agent_key]:
                self._ring[agent_key] = b.ring
                h.ring_drops = sum(r.drops for r in self._ring.values())
                h.ring_dropped_bytes = sum(r.dropped_bytes for r in self._ring.values())
                h.ring_waits = sum(r.waits for r in self._ring.values())
            for hook in b.hooks:
                key = (str(hook.get("name")), str(hook.get("target")))
                self._hooks[key] = str(hook.get("status"))
            h.hooks_installed = sum(1 for s in self._hooks.values() if s == "installed")
            h.hooks_skipped = sum(1 for s in self._hooks.values() if s == "skipped")
            h.hooks_failed = sum(1 for s in self._hooks.values() if s == "failed")

    def _record_lost_children(self) -> None:
        """A child its parent reaped (children followed: the agent reports each wait) that
        Frida never announced, that never sent a batch and was never detached, was not
        captured: it died before Frida announced it (docs/capture.md, children). Recorded as
        a detach, so verdicts count the blind spot."""
        for child, (parent, t, status) in sorted(self._reaped.items()):
            if child in self._reported:
                continue
            self.info.health.detached.append({
                "pid": child, "t": t,
                "reason": f"lost-after-fork: child of pid {parent}, {_wait_status(status)}, "
                          "never reported to the harness; nothing it sent was seen"})

    def hook_statuses(self) -> dict[tuple[str, str], str]:
        with self._info_lock:
            return dict(self._hooks)

    def _save_info(self) -> None:
        try:
            with self._info_lock:
                self.run.save_info(self.info)
        except OSError:
            log.exception("could not write run.json")


def _wait_status(status: JSON) -> str:
    """A raw wait status as words: "killed by signal 11 (SIGSEGV)", "exit code 0"."""
    if not is_int64(status):
        return "exit status unknown"
    if not -(1 << 31) <= status < 1 << 31:  # the W* macros take a C int
        return f"wait status {status:#x}"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = f" ({signal.Signals(sig).name})"
        except ValueError:
            name = ""
        return f"killed by signal {sig}{name}"
    if os.WIFEXITED(status):
        return f"exit code {os.WEXITSTATUS(status)}"
    return f"wait status {status:#x}"

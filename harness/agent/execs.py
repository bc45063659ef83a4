"""Exec following: what a capture session does when a process it instruments execs, and
with the children Frida still holds when the capture stops.

An exec keeps the pid and replaces the image, and the agent with it. Frida behaves in one
of two ways (docs/capture.md, "Exec"):

- Under child gating (``--follow-children``) Frida reports the old image's session
  ``process-replaced``, then announces the new image as a child of origin ``exec``, held at
  its start until resumed (the announcement may also come first). The session instruments
  it like a forked child; :class:`ExecFollower` remembers the exec until it is announced,
  :meth:`CaptureSession.wait <harness.agent.session.CaptureSession.wait>` waits for that
  (bounded by :data:`EXEC_ANNOUNCE_TIMEOUT`), and past the bound the pid is resumed and
  recorded ``not-instrumented``.
- Without child gating Frida does not see the exec: the agent's channel drops with the old
  image, and Frida reports ``process-terminated`` while the process runs on. A pid still
  there after :data:`EXEC_SETTLE`, or whose program (path, argv) changed, is instrumented
  again, late, and recorded ``unfollowed-exec``, a blind spot.

Each script loaded into a pid is its agent instance (0, 1...; the session numbers them),
which the channel records with its batches: the new agent numbers its batches and
connections from 0 again. When the capture stops, every child Frida still holds for the
tree is resumed and recorded ``not-instrumented``: a process never resumed never runs.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import frida

from harness.agent.channel import Channel
from harness.agent.frida_errors import FRIDA_ERRORS
from harness.errors import AgentError

log = logging.getLogger(__name__)

EXEC_SETTLE = 0.3
"""Seconds a pid Frida said terminated must still be there before it is instrumented again
(an exec without child gating). Attached at once, it is in the new image's dynamic loader:
Frida's injection then crashed ("loader crashed with signal 11") and left the process
blocked for good (seen with ``env python3 ...``, attached 8 ms after the exec)."""

EXEC_ANNOUNCE_TIMEOUT = 10.0
"""Seconds :meth:`CaptureSession.wait` waits, after Frida reported ``process-replaced``, for
Frida to announce the new image (it does within milliseconds: it waits for the old agent's
channel to close); past that the pid is resumed and recorded ``not-instrumented``."""

Image = tuple[str, tuple[str, ...]]
"""The program a process runs: path, argv."""


class ExecFollower:
    """A capture session's exec bookkeeping.

    Its state is guarded by the session's lock, not a lock of its own: ``wait()`` must see
    a target's end and the exec still to be announced in one step, or it could return
    between the two. The methods that say so are called with that lock held."""

    def __init__(self, device: frida.Device, channel: Channel, lock: threading.Lock,
                 threads: list[threading.Thread], *, follow_children: bool,
                 instrument: Callable[[int], None], stopping: Callable[[], bool]) -> None:
        self.device = device
        self.channel = channel
        self.follow_children = follow_children
        self._lock = lock
        self._threads = threads
        """The session's helper threads (wait() and stop() wait for them): a re-check of a
        pid Frida said terminated is one."""
        self._instrument = instrument
        self._stopping = stopping
        self._pending: dict[int, float] = {}
        """pid → deadline (monotonic) of an exec Frida reported (``process-replaced``) whose
        new image it has not announced yet."""
        self._announced: set[tuple[int, object]] = set()
        """(pid, Frida session of the image that exec'd) of each exec whose new image was
        announced before that session's ``process-replaced`` arrived. Keyed by the session,
        not the pid alone: that ``process-replaced`` may come after the new image was
        instrumented, even after the new image's own exec was reported
        (:meth:`replaced_late`), and must settle its own exec, not the next one."""
        self._images: dict[int, Image] = {}
        """pid → the program (path, argv) it ran when its latest agent was loaded."""

    def loaded(self, pid: int) -> None:
        """An agent was loaded into pid: remember the program it runs, which tells an exec
        from an exit when Frida later says ``process-terminated``."""
        with contextlib.suppress(AgentError):
            image = self._image(pid)
            if image is not None:
                self._images[pid] = image

    def announced(self, pid: int, old: object) -> None:
        """Frida announced pid's new image (a child of origin ``exec``); ``old`` is the
        Frida session of the image it replaced (None if none is known). Lock held."""
        if self._pending.pop(pid, None) is None:
            self._announced.add((pid, old))

    def ended(self, pid: int, reason: str, session: object) -> None:
        """Frida ended ``session``, the current target of pid, which the harness was not
        tearing down, for ``reason``: an exec under child gating is announced next (unless
        it was already); without, a pid Frida said terminated (or replaced) may run on, and
        is checked on a thread. Lock held."""
        if reason == "process-replaced" and self.follow_children:
            # an exec under child gating: Frida announces the new image next
            if not self._settle(pid, session):
                self._pending[pid] = time.monotonic() + EXEC_ANNOUNCE_TIMEOUT
        elif reason in ("process-terminated", "process-replaced"):
            th = threading.Thread(target=self._ran_on, args=(pid, time.monotonic()),
                                  daemon=True, name=f"ran-on-{pid}")
            self._threads.append(th)
            th.start()

    def replaced_late(self, pid: int, reason: str, session: object) -> None:
        """Frida ended ``session``, an image pid no longer runs, for ``reason``: the old
        image's ``process-replaced`` after its exec's new image was announced and already
        instrumented. It settles that exec's entry (which, keyed by its session, could not
        be taken for another exec, but would stay for the rest of the capture). Lock held."""
        if reason == "process-replaced" and self.follow_children:
            self._settle(pid, session)

    def _settle(self, pid: int, session: object) -> bool:
        """Settle the exec of ``session``'s image if its new image was already announced;
        False when it was not. An announcement made with no known old session (None) is
        never taken for one: its exec's ``process-replaced`` is then waited for and, past
        the bound, recorded not instrumented (a blind spot too many, never one too few).
        Lock held."""
        if (pid, session) not in self._announced:
            return False
        self._announced.discard((pid, session))
        return True

    def pending(self) -> bool:
        """Whether an exec Frida reported still waits for its new image. Lock held."""
        return bool(self._pending)

    def held(self) -> list[int]:
        """The pids whose exec Frida holds unannounced."""
        with self._lock:
            return list(self._pending)

    def _ran_on(self, pid: int, since: float) -> None:
        """After Frida said ``process-terminated``: is the pid still there? Without child
        gating an exec drops the agent's channel with the old image, and Frida cannot tell
        that from an exit. A pid gone within :data:`EXEC_SETTLE` whose program (path, argv)
        never changed had exited. One whose program changed, or still there after it, ran
        on unobserved: it is instrumented again (late) and the blind spot recorded."""
        try:
            before = self._images.get(pid)
            image = self._image(pid)
            changed = False
            while image is not None:
                changed = changed or (before is not None and image != before)
                if time.monotonic() >= since + EXEC_SETTLE:
                    break
                time.sleep(0.02)
                image = self._image(pid)
            if image is None and not changed:
                return  # it exited
            what = (f"it exec'd {image[0] if image else 'a new program'}" if changed else
                    "an exec, or its exit path")
            head = (f"unfollowed-exec: Frida reported pid {pid} terminated but it ran on "
                    f"({what}; without --follow-children Frida does not hold an exec'd image)")
            if image is None:
                self.channel.on_detached(pid, f"{head} and exited before it could be "
                                              "instrumented again: nothing it did was seen")
                return
            if self._stopping():
                self.channel.on_detached(pid, f"{head}; the capture was stopping: nothing it "
                                              "did was seen")
                return
            try:
                self._instrument(pid)
            except AgentError as exc:
                self.channel.on_detached(pid, f"{head} and could not be instrumented again "
                                              f"({exc.__cause__ or exc}): nothing it did was "
                                              "seen")
                return
            late = (time.monotonic() - since) * 1000
            self.channel.on_detached(pid, f"{head}; instrumented again after {late:.0f} ms: "
                                          "what it did before, and what the old image had "
                                          "not flushed, was not seen")
        except Exception:
            log.exception("could not check whether pid %d ran on", pid)
            self.channel.on_detached(pid, "unfollowed-exec: Frida reported it terminated, and "
                                          "whether it ran on could not be checked")

    def _image(self, pid: int) -> Image | None:
        """The program a process runs (path, argv), or None when it is gone or a zombie
        (Frida lists neither)."""
        try:
            found = self.device.enumerate_processes(pids=[pid], scope="metadata")
        except FRIDA_ERRORS as exc:
            raise AgentError(f"cannot list processes: {exc}") from exc
        if not found:
            return None
        meta = found[0].parameters
        argv = meta.get("argv")
        return (str(meta.get("path", "")),
                tuple(str(a) for a in argv) if isinstance(argv, list) else ())

    def expire(self, *, all_pending: bool = False) -> None:
        """Record the execs Frida reported whose new image it has not announced by their
        deadline (all of them when stopping) as not instrumented, and resume those pids:
        a held image we never adopt must not stay suspended."""
        now = time.monotonic()
        with self._lock:
            due = [p for p, d in self._pending.items() if all_pending or d <= now]
            for pid in due:
                del self._pending[pid]
        for pid in due:
            why = ("before the capture stopped" if all_pending
                   else f"within {EXEC_ANNOUNCE_TIMEOUT:.0f} s")
            self.channel.on_detached(pid, f"not-instrumented: Frida reported pid {pid} "
                                          f"replaced (an exec) but did not announce the new "
                                          f"image ({why}); it ran on unobserved")
            with contextlib.suppress(*FRIDA_ERRORS):
                self.device.resume(pid)

    def release_pending_children(self, ours: set[int]) -> None:
        """Resume every child Frida still holds for this tree (``ours``: the pids the
        session loaded an agent into), announced after child-added was disconnected or
        whose adoption failed before its resume: a process we never resume would never run.
        Each is recorded as not instrumented."""
        try:
            pending = self.device.enumerate_pending_children()
        except FRIDA_ERRORS as exc:
            log.warning("cannot list the children Frida holds: %s", exc)
            return
        for child in pending:
            if child.pid not in ours and child.parent_pid not in ours:
                continue
            ours.add(child.pid)
            self.channel.on_child(child.pid, child.parent_pid, str(child.origin))
            self.channel.on_detached(child.pid, "not-instrumented: Frida announced this "
                                                "child as the capture stopped; resumed "
                                                "uninstrumented")
            with contextlib.suppress(*FRIDA_ERRORS):
                self.device.resume(child.pid)

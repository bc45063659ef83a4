"""Agent sessions: spawn or attach, load the agent, follow children, tear down cleanly.

A :class:`CaptureSession` instruments one process tree on a Frida device. Children made by
fork or exec are held by child gating, instrumented, then resumed, so nothing they send
escapes. Every script reports its ABI before anything else (a mismatch is refused), is
configured through ``init(config)``, and at the end is flushed and unloaded (the agent's
``dispose`` flushes what is left) before the session detaches. Teardown never raises.

An exec keeps the pid and replaces the image, and the agent with it: how the session
follows it, or records what it missed, is :mod:`harness.agent.execs`. Each script loaded
into a pid is its agent instance (0, 1...), which the channel records with its batches.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import frida

from harness.agent.bundle import AgentBundle, check_abi
from harness.agent.channel import Channel
from harness.agent.execs import ExecFollower
from harness.agent.frida_errors import FRIDA_ERRORS
from harness.agent.unmapped import wait_unmapped
from harness.errors import AgentError
from harness.protocol import JSON

log = logging.getLogger(__name__)

TEARDOWN_TIMEOUT = 20.0
"""Seconds one teardown step (flush, unload, detach) may take."""


@dataclass
class _Target:
    pid: int
    session: frida.Session
    script: frida.Script
    hooks: JSON = None
    alive: bool = True
    detaching: bool = False
    """The harness is tearing this target down: a detach now is its own."""


@dataclass(frozen=True, slots=True)
class AgentConfig:
    flush_interval_ms: int = 50
    max_record_bytes: int = 1 << 20
    block_quic: bool = True
    native: bool = True
    java: bool = True
    exclude: tuple[str, ...] = ()
    profile: bool = False
    """Time the hooks' parts in the target (hooks/src/profile.ts); see status()."""
    extra: Mapping[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        return {
            "flushIntervalMs": self.flush_interval_ms, "maxRecordBytes": self.max_record_bytes,
            "blockQuic": self.block_quic, "native": self.native, "java": self.java,
            "exclude": list(self.exclude), "profile": self.profile, **self.extra,
        }


class CaptureSession:
    """Instruments a process tree; a context manager whose exit stops and flushes."""

    def __init__(self, device: frida.Device, bundle: AgentBundle, channel: Channel,
                 config: AgentConfig | None = None, *, follow_children: bool = True) -> None:
        self.device = device
        self.bundle = bundle
        self.channel = channel
        self.config = config or AgentConfig()
        self.follow_children = follow_children
        self.teardown_timeout = TEARDOWN_TIMEOUT
        self.targets: dict[int, _Target] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._stopped = False
        self._child_threads: list[threading.Thread] = []
        """Adopting an announced child, or re-checking a pid Frida said terminated: wait()
        waits for them."""
        self._agents: dict[int, int] = {}
        """pid → scripts loaded into it so far (the next one's agent instance)."""
        self._unloading: set[int] = set()
        """pids whose agent was still mapped ``teardown_timeout`` after the detach: Frida's
        next attach to one waits for that unload, however long it takes (docs/java.md)."""
        self._execs = ExecFollower(device, channel, self._lock, self._child_threads,
                                   follow_children=follow_children,
                                   instrument=self._instrument, stopping=lambda: self._stopped)
        self._on_child = self._child_added  # keep one bound method to disconnect later
        if follow_children:
            device.on("child-added", self._on_child)

    def __enter__(self) -> CaptureSession:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # --- starting ------------------------------------------------------------------------

    def spawn(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
              cwd: str | None = None) -> int:
        """Spawn argv suspended, instrument it, resume it; returns the pid."""
        exe = shutil.which(argv[0]) or argv[0]  # frida spawns by path, not through PATH
        try:
            pid = self.device.spawn([exe, *argv[1:]], env=dict(env) if env else None, cwd=cwd)
        except FRIDA_ERRORS as exc:
            raise AgentError(f"cannot spawn {argv[0]}: {exc}") from exc
        try:
            self._instrument(pid, suspended=True)
            self.device.resume(pid)
        except BaseException:
            with contextlib.suppress(*FRIDA_ERRORS):
                self.device.kill(pid)
            raise
        return pid

    def attach(self, pid: int) -> None:
        self._instrument(pid)

    def _instrument(self, pid: int, *, suspended: bool = False) -> None:
        # suspended: nothing runs in the target while the hooks install, so the agent may
        # patch with Interceptor.replaceFast (hooks/src/native/ring.ts).
        if pid in self._unloading:
            if not wait_unmapped(pid, self.teardown_timeout):
                raise AgentError(
                    f"cannot instrument pid {pid}: the agent detached from it earlier is still "
                    f"mapped into it {self.teardown_timeout:.0f} s later, and Frida's attach "
                    "would wait for that unload without end",
                    fix="restart the process (docs/java.md: an unload that does not finish)")
            self._unloading.discard(pid)
        with self._lock:
            agent = self._agents.get(pid, 0)
            self._agents[pid] = agent + 1
        try:
            session = self.device.attach(pid)
            if self.follow_children:
                session.enable_child_gating()
            session.on("detached",
                       lambda reason, crash: self._detached(pid, reason, crash, session))
            script = session.create_script(self.bundle.source, name="egress-harness")
            script.on("message", functools.partial(self.channel.on_message, agent=agent))
            script.load()
        except FRIDA_ERRORS as exc:
            raise AgentError(f"cannot instrument pid {pid}: {exc}",
                             fix="run as root, or allow ptrace (kernel.yama.ptrace_scope=0)"
                             ) from exc
        check_abi(script)
        self._execs.loaded(pid)
        try:
            # the agent writes its instance into the ids it makes (hooks/src/instance.ts)
            hooks = script.exports_sync.init({**self.config.to_json(), "suspended": suspended,
                                                 "followChildren": self.follow_children,
                                                 "agent": agent})
        except FRIDA_ERRORS as exc:
            raise AgentError(f"agent init failed in pid {pid}: {exc}") from exc
        with self._changed:
            self.targets[pid] = _Target(pid, session, script, hooks)
            self._changed.notify_all()

    def _child_added(self, child: frida._frida.Child) -> None:
        # Frida calls this on its own thread; attaching from here would block it.
        self.channel.on_child(child.pid, child.parent_pid, str(child.origin))
        th = threading.Thread(target=self._adopt, args=(child.pid,), daemon=True,
                              name=f"adopt-{child.pid}")
        with self._changed:
            self._child_threads.append(th)
            th.start()
            if str(child.origin) == "exec":
                # the image that exec'd: still the pid's target (its new image is adopted
                # on the thread just started, which needs this lock to register it)
                old = self.targets.get(child.pid)
                self._execs.announced(child.pid, old.session if old is not None else None)
            self._changed.notify_all()

    def _adopt(self, pid: int) -> None:
        try:
            if self._stopped:
                self.channel.on_detached(pid, "not-instrumented: the capture was stopping "
                                              "when Frida announced this child")
            else:
                self._instrument(pid)
        except Exception:
            log.exception("could not instrument child %d", pid)
            self.channel.on_detached(pid, "not-instrumented")
        finally:
            with contextlib.suppress(*FRIDA_ERRORS):
                self.device.resume(pid)

    def _detached(self, pid: int, reason: str, crash: object,
                  session: frida.Session | None = None) -> None:
        target = self.targets.get(pid)
        stale = target is not None and session is not None and target.session is not session
        if stale:
            target = None  # a session of an image the pid has since replaced
        if (reason == "application-requested" and not self._stopped
                and (target is None or not target.detaching)):
            # Frida's host also says this when a forked child's copy of this session closes
            # (docs/capture.md, children): the process may run on, unobserved.
            reason = ("unrequested-detach: Frida reported application-requested but the "
                      "harness had not detached; the process may have run on unobserved")
        detail = reason if crash is None else f"{reason}: {crash}"
        self.channel.on_detached(pid, detail)
        with self._changed:
            if target is not None:
                target.alive = False
                if not (self._stopped or target.detaching):
                    self._execs.ended(pid, reason, session)
            elif stale:
                self._execs.replaced_late(pid, reason, session)
            self._changed.notify_all()

    # --- waiting and stopping -------------------------------------------------------------

    def alive(self) -> list[int]:
        with self._lock:
            return [p for p, t in self.targets.items() if t.alive]

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until every instrumented process is gone, no child is being adopted and no
        exec's new image is still to be announced; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._execs.expire()
            with self._changed:
                pending_children = any(th.is_alive() for th in self._child_threads)
                if (not pending_children and not self._execs.pending()
                        and all(not t.alive for t in self.targets.values())):
                    return True
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(timeout=0.2 if left is None else min(0.2, left))

    def status(self, pid: int) -> Mapping[str, JSON]:
        """The agent's own view of one target: its hook reports, the native ring's counters
        and, with ``AgentConfig.profile``, the time its hooks took (name -> calls, total_us)."""
        answer = self.targets[pid].script.exports_sync.status()
        if not isinstance(answer, dict):
            raise AgentError(f"status() of {pid} answered {answer!r}")
        return answer

    def flush(self) -> None:
        for pid in self.alive():
            with contextlib.suppress(*FRIDA_ERRORS):
                self.targets[pid].script.exports_sync.flush()

    def stop(self) -> None:
        """Flush, unload and detach everything still attached. Never raises; logs."""
        if self._stopped:
            return
        self._stopped = True
        if self.follow_children:
            with contextlib.suppress(*FRIDA_ERRORS, ValueError):
                self.device.off("child-added", self._on_child)
        for th in list(self._child_threads):
            th.join(timeout=10)
        self._execs.expire(all_pending=True)
        if self.follow_children:
            with self._lock:
                ours = set(self._agents)
            self._execs.release_pending_children(ours)
        for pid in reversed(self.alive()):
            self._teardown(pid)

    def stop_pid(self, pid: int, nudge: Callable[[], object] | None = None) -> None:
        """Flush, unload and detach one process (e.g. before asking a JVM to exit).

        ``nudge``, called once the hooks are reverted and before unload, should make the
        process return from a read it is blocked in (e.g. send a no-op command to the
        thread reading its control channel): that read entered a hooked function, and
        unload waits for it. Its errors are logged; teardown goes on."""
        target = self.targets.get(pid)
        if target is None or not target.alive:
            return
        self._teardown(pid, nudge)
        with self._changed:
            target.alive = False
            self._changed.notify_all()

    def _teardown(self, pid: int, nudge: Callable[[], object] | None = None) -> None:
        """Flush, dispose, wait for the hooked calls in flight, unload, detach; each step
        bounded. ``dispose`` reverts the hooks and says how many threads are still inside a
        native wrapper or a Java entry (blocked in a hooked read, say): their return path is
        code that unload frees, and Frida's unload waits only for functions it replaced the
        slow way, so without this wait a process spawned under capture died when such a read
        returned (tests/hooks_native/test_install.py), and a JVM crashed
        (tests/hooks_java/test_dispose.py). The Java count is read from the JVM's stacks
        after the methods were put back, so once 0 it stays 0 (docs/java.md); the native
        wrappers count themselves (docs/capture.md). Unload or detach of a busy JVM has
        also been seen to never return (18 minutes, under load): a step that overruns is
        recorded as a detach of the pid, and the process is killed so the run goes on."""
        target = self.targets[pid]
        target.detaching = True
        inflight = [0]

        def dispose() -> None:
            answer = target.script.exports_sync.dispose()
            if isinstance(answer, dict) and isinstance(answer.get("inflight"), int):
                inflight[0] = answer["inflight"]

        steps: list[tuple[str, Callable[[], object]]] = [
            ("flush", target.script.exports_sync.flush), ("dispose", dispose)]
        if nudge is not None:
            steps.append(("nudge", nudge))
        steps += [("wait for hooked calls", lambda: self._wait_inflight(target, inflight)),
                  ("unload", target.script.unload), ("detach", target.session.detach)]
        for name, step in steps:
            if not _bounded(step, self.teardown_timeout, f"{name} of pid {pid}"):
                # Until the flush returned, batches may be missing: that blinds the capture.
                why = "teardown-timeout" if name == "flush" else "teardown-timeout-after-flush"
                detail = (f"; {inflight[0]} thread(s) still inside hooked calls"
                          if name == "wait for hooked calls" else "")
                self.channel.on_detached(pid, f"{why}: {name} did not return in "
                                              f"{self.teardown_timeout:.0f} s{detail}; "
                                              "process killed")
                _bounded(lambda: self.device.kill(pid), self.teardown_timeout, f"kill {pid}")
                return
        # detach returns while the agent is still unloading in the target: a process ended
        # right after (the lab browser told to quit) crashed in agent code being unmapped
        if getattr(self.device, "type", None) == "local" and not wait_unmapped(
                pid, self.teardown_timeout):
            log.warning("the agent was still mapped into pid %d %.0f s after detach", pid,
                        self.teardown_timeout)
            self._unloading.add(pid)

    @staticmethod
    def _wait_inflight(target: _Target, inflight: list[int]) -> None:
        """Until no thread is inside a native wrapper or a Java entry (polled; bounded by the
        caller)."""
        while inflight[0] > 0:
            time.sleep(0.05)
            n = target.script.exports_sync.inflight()
            inflight[0] = n if isinstance(n, int) else 0

    def kill(self) -> None:
        """Kill every instrumented process still alive (after a timeout), and every pid
        whose exec Frida holds unannounced."""
        for pid in [*self.alive(), *self._execs.held()]:
            with contextlib.suppress(*FRIDA_ERRORS):
                self.device.kill(pid)


def _bounded(step: Callable[[], object], timeout: float, what: str) -> bool:
    """Run a Frida call in a daemon thread; False when it has not returned in ``timeout``
    (the thread is left to finish or die with the process). Errors are logged, not raised:
    teardown never throws."""
    done = threading.Event()

    def call() -> None:
        try:
            step()
        except FRIDA_ERRORS as exc:
            log.debug("%s: %s", what, exc)
        except Exception:
            log.exception("%s", what)
        finally:
            done.set()

    threading.Thread(target=call, name=f"teardown: {what}", daemon=True).start()
    if done.wait(timeout):
        return True
    log.warning("%s did not return in %.0f s", what, timeout)
    return False

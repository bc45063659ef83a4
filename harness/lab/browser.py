"""Drives the lab browser: a JVM process answering one JSON line per step on stdin/stdout."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from harness.errors import EnvironmentError_
from harness.protocol import JSON

PROFILES = ("mint-3.4.0", "mint-3.4.3")
LAB_ACTIONS = frozenset({
    "launch", "clear_data", "open_url", "search", "download", "incognito", "sign_in",
    "sign_out", "sync", "usage_stats", "wait", "idle", "background", "foreground", "kill",
    "restart", "crash",
})
"""Abstract steps the lab browser can do (it has no UI, so no tap/type/swipe)."""


class StepFailed(Exception):
    """A step timed out, the app answered an error, or the app died."""


@dataclass(frozen=True, slots=True)
class LabConfig:
    profile: str
    classpath: Path
    state_dir: Path
    sa_url: str
    sync_url: str
    ca_pem: Path
    hosts_file: Path
    android_id: str
    imei: str


_PARENT = """\
import os, resource, signal, sys
FORWARD = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
# blocked until the handlers that pass them on are in place: one arriving between the spawn
# and the handlers would end this parent alone and orphan the JVM
signal.pthread_sigmask(signal.SIG_BLOCK, FORWARD)
# Python starts with SIGPIPE and SIGXFSZ ignored, which exec would pass on: the JVM gets the
# dispositions Popen would have given it, and none blocked
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ,
                     setsigdef=(signal.SIGPIPE, signal.SIGXFSZ), setsigmask=())
for sig in FORWARD:
    signal.signal(sig, lambda sig, _frame: os.kill(pid, sig))
signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARD)
status = os.waitpid(pid, 0)[1]
for sig in FORWARD:  # the pid is reaped (and may be reused): nothing is passed on from here
    signal.signal(sig, signal.SIG_IGN)
if os.WIFSIGNALED(status):
    sig = os.WTERMSIG(status)
    if sig != signal.SIGKILL:  # Python's own handlers (SIGINT, SIGPIPE) out of the way
        signal.signal(sig, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the JVM's core, if any, is the one
    os.kill(os.getpid(), sig)
sys.exit(os.waitstatus_to_exitcode(status))
"""
"""The JVM's parent, which ends as the JVM ended (the same signal, the same code). Frida,
attached to the JVM from this process, can reap it when it dies (waitpid in Frida's own
threads: 2 to 4 of 20 to 30 SIGKILLs on this machine); Popen then reads ECHILD and reports
exit code 0, and a crash read as "exited (code 0)". Frida never reaps this parent: it is not
the process Frida attaches to. A SIGTERM, SIGINT, SIGHUP or SIGQUIT sent to the parent alone
is passed on to the JVM (the parent then ends as the JVM did); against a SIGKILL of the
parent alone, :meth:`LabBrowserProcess.kill` reaches the JVM through a pidfd."""


class LabBrowserProcess:
    """One running lab browser. ``stderr_tail`` keeps its last output for failed steps."""

    def __init__(self, cfg: LabConfig) -> None:
        java = shutil.which("java")
        if java is None:
            raise EnvironmentError_("java is missing", fix="apt-get install default-jdk-headless")
        self.cfg = cfg
        # The JVM runs under a parent of its own (_PARENT), in a process group of their own
        # (kill() ends both, even before the JVM said its pid)
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", _PARENT, java, f"-Djdk.net.hosts.file={cfg.hosts_file}",
             "-Xshare:auto", "-cp", str(cfg.classpath), "LabBrowser", cfg.profile,
             str(cfg.state_dir), cfg.sa_url, cfg.sync_url, str(cfg.ca_pem), cfg.android_id,
             cfg.imei],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            bufsize=1, process_group=0,
        )
        self.pid: int | None = None
        """The JVM's pid (what Frida attaches to), from its ready line."""
        self._pidfd: int | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.stderr_tail: deque[str] = deque(maxlen=50)
        self._pumps = [threading.Thread(target=self._pump_out, daemon=True),
                       threading.Thread(target=self._pump_err, daemon=True)]
        for pump in self._pumps:
            pump.start()

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail.append(line.rstrip())

    def _reply(self, timeout: float) -> dict[str, JSON]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise StepFailed(f"no answer within {timeout:.0f} s") from None
        if line is None:
            code = self.proc.wait(timeout=5)
            how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"code {code}"
            raise StepFailed(f"the lab browser exited ({how})")
        reply = json.loads(line)
        if not isinstance(reply, dict):
            raise StepFailed(f"bad answer {line!r}")
        return reply

    def wait_ready(self, timeout: float = 60.0) -> int:
        """Wait for its ready line; returns the JVM's pid."""
        reply = self._reply(timeout)
        pid = reply.get("pid")
        if reply.get("ready") is not True or not isinstance(pid, int):
            raise StepFailed(f"lab browser did not start: {reply}")
        self.pid = pid
        # the JVM itself, for kill(): if its parent were gone, the group's id could be reused
        # once the group is empty, while a pidfd names this process and no other
        with contextlib.suppress(OSError):
            self._pidfd = os.pidfd_open(pid)
        return pid

    def step(self, op: str, value: JSON = None, timeout: float = 30.0,
             **extra: JSON) -> dict[str, JSON]:
        if self.proc.poll() is not None:
            raise StepFailed(f"the lab browser is not running (code {self.proc.returncode})")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"op": op, "value": value, **extra}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise StepFailed(f"the lab browser stopped reading: {exc}") from exc
        reply = self._reply(timeout)
        if reply.get("ok") is not True:
            raise StepFailed(str(reply.get("error")))
        return reply

    def nudge(self) -> None:
        """A no-op command (``ping``: nothing is sent, no analytics flushed) whose only
        effect is that the control thread's blocked read returns and it reads again.
        Never raises."""
        if self.proc.poll() is None:
            with contextlib.suppress(StepFailed):
                self.step("ping", timeout=10.0)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exit_code(self) -> int | None:
        """How it ended (negative: the signal), None while it runs."""
        return self.proc.poll()

    def kill(self, timeout: float = 10.0) -> None:
        """Kill it now (it hung) and collect its output. Never raises."""
        self._kill_group()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=timeout)
        self.quit(timeout)

    def _kill_group(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._kill_jvm()

    def _kill_jvm(self) -> None:
        """SIGKILL the JVM itself, which outlives its parent only when the parent alone was
        SIGKILLed (any other signal the parent passes on); a JVM already gone is left be."""
        if self._pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)

    def quit(self, timeout: float = 10.0) -> None:
        """Ask it to stop; kill it if it does not. Never raises."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"op":"quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired, AssertionError):
                self._kill_group()
                self.proc.wait(timeout=timeout)
        self._kill_jvm()  # its parent is gone: so must it be, before the pumps wait for EOF
        # the pumps read to the end of the pipes first: the output is the evidence of a crash
        for pump in self._pumps:
            pump.join(timeout=timeout)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

"""Wait until a detached Frida agent has left a local process's memory.

``Session.detach()`` returns while the agent is still unloading inside the target: on this
machine its ``frida-agent`` mappings were still there right after detach, and gone 25 ms
later. A process that exits in that window (a JVM told to quit right after the capture
detached) races the agent's own teardown and dies with SIGSEGV in agent code that is being
unmapped: the ``hs_err_pid*.log`` files the test suite left now and then, a JVM crash on a
"native thread" whose pc lay in (or just past) ``/memfd:frida-agent-64.so``. So whoever ends a
process it detached from waits for this first.

Only a local target can be checked: this reads this machine's ``/proc/<pid>/maps``, so
callers check that the Frida device is local first (a remote pid, Android through
frida-server, would name some other local process or none). Not yet seen on a phone: whether
ART processes race the same way.
"""

from __future__ import annotations

import time
from pathlib import Path

AGENT_MAPPING = "frida-agent"
"""What Frida's agent mappings are called (``/memfd:frida-agent-64.so (deleted)``)."""


def agent_mapped(pid: int, proc: Path = Path("/proc")) -> bool | None:
    """Whether a Frida agent is mapped into local ``pid``; None when its maps cannot be read
    (the process is gone, or another user's that this one may not read): then nothing is
    waited for."""
    try:
        with open(proc / str(pid) / "maps", encoding="utf-8", errors="replace") as maps:
            return any(AGENT_MAPPING in line for line in maps)
    except OSError:
        return None


def wait_unmapped(pid: int, timeout: float = 5.0, poll: float = 0.01,
                  proc: Path = Path("/proc")) -> bool:
    """Until no agent is mapped into ``pid`` (or its maps cannot be read), at most
    ``timeout`` seconds; False if one is still mapped then."""
    end = time.monotonic() + timeout
    while agent_mapped(pid, proc):
        if time.monotonic() >= end:
            return False
        time.sleep(poll)
    return True

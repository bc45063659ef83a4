"""How the native hooks go in: on a spawned (suspended) x86-64 process every hook takes the
fast path, including the functions Interceptor.replaceFast refuses (glibc's read(), OpenSSL
3's SSL_read_ex/SSL_write_ex), and dispose puts every patched byte back."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
import sys
import threading
import time

import frida
import pytest

from harness.agent.bundle import AgentBundle
from harness.protocol import decode_batch
from harness.testing.agent_run import check_abi

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="the near-jump fallback is x86-64 only")

# Loads libssl late (the module observer hooks it), then waits for a line on stdin: read()
# is the hooked function it sits in.
SLEEPER = "import ssl, sys; sys.stdin.readline()"

PROBE = """
rpc.exports = {
  prologues(names) {
    return names.map((n) => {
      const ssl = Process.findModuleByName("libssl.so.3");
      const p = n.startsWith("SSL_") ? (ssl === null ? null : ssl.findExportByName(n))
          : Module.findGlobalExportByName(n);
      return p === null ? null : Array.from(new Uint8Array(p.readByteArray(16)));
    });
  },
};
"""

FUNCTIONS = ["read", "write", "SSL_read_ex", "SSL_write_ex", "SSL_read", "SSL_write"]


def test_every_hook_is_fast_in_a_spawned_process_and_dispose_restores_the_code(
        agent: AgentBundle) -> None:
    device = frida.get_local_device()
    pid = device.spawn([sys.executable, "-c", SLEEPER], stdio="pipe")
    session = device.attach(pid)
    gone = threading.Event()
    session.on("detached", lambda *_: gone.set())
    try:
        probe = session.create_script(PROBE)
        probe.load()
        script = session.create_script(agent.source)
        errors: list[str] = []
        script.on("message", lambda m, d: errors.append(str(m)) if m["type"] == "error"
                  else decode_batch(m["payload"], d))
        script.load()
        check_abi(script)
        libc_before = probe.exports_sync.prologues(FUNCTIONS[:2])
        script.exports_sync.init({"suspended": True, "java": False})
        device.resume(pid)
        deadline = time.monotonic() + 20
        while True:  # until `import ssl` loaded libssl and the observer hooked it
            status = script.exports_sync.status()
            names = {h["name"]: h["status"] for h in status["hooks"]}
            if names.get("native.tls.SSL_read_ex") == "installed":
                break
            assert time.monotonic() < deadline, names
            time.sleep(0.05)
        native = status["native"]
        assert native["slowHooks"] == [], native
        assert native["fastHooks"] >= 10
        patched = probe.exports_sync.prologues(FUNCTIONS)
        assert all(p is not None for p in patched)
        assert patched[:2] != libc_before, "read/write must be patched"

        script.exports_sync.dispose()
        restored = probe.exports_sync.prologues(FUNCTIONS)
        assert restored[:2] == libc_before
        # libssl was hooked as it loaded: compare with the same library in this process
        assert restored[2:] == _prologues_here(FUNCTIONS[2:])
        assert errors == []
        script.unload()
        device.input(pid, b"\n")
        assert gone.wait(20), "the process must leave read() and exit normally"
    finally:
        with contextlib.suppress(frida.ProcessNotFoundError):
            device.kill(pid)


def _prologues_here(names: list[str]) -> list[list[int]]:
    """The first 16 bytes of each function in this (unhooked) interpreter's libssl."""
    import ssl  # noqa: F401  (loads the libssl this interpreter uses)

    path = ctypes.util.find_library("ssl")
    assert path is not None
    lib = ctypes.CDLL(path)
    out = []
    for n in names:
        addr = ctypes.cast(getattr(lib, n), ctypes.c_void_p).value
        assert addr is not None
        out.append(list(ctypes.string_at(addr, 16)))
    return out

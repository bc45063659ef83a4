"""The C keep-alive HTTPS client and server (``csrc/keepalive.c``): built, started, read.

Used by ``bench/hook_overhead.py`` (throughput with and without capture) and by the full-rate
capture test (every byte at the client's top rate). The server serves one connection on an
ephemeral port of 127.0.0.1 and reports the bytes it received and their SHA-256; the client
POSTs on one connection for a number of seconds and writes its counts to a JSON file (its
stdout may be Frida's).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from harness.errors import EnvironmentError_
from harness.testing.certs import PKIFiles

SOURCE = Path(__file__).resolve().parent / "csrc" / "keepalive.c"
START_TIMEOUT = 10.0


def build_openssl_c(source: Path, exe: Path) -> Path:
    """Compile one C file against the system OpenSSL 3 into ``exe``."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise EnvironmentError_("gcc is missing", fix="apt-get install gcc libssl-dev")
    proc = subprocess.run([gcc, "-O2", "-Wall", "-o", str(exe), str(source), "-lssl",
                           "-lcrypto"], capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise EnvironmentError_(f"cannot build {source}: {proc.stderr.strip()[:2000]}",
                                fix="apt-get install gcc libssl-dev")
    return exe


def build_keepalive(out: Path) -> Path:
    """Compile ``keepalive.c`` against the system OpenSSL 3 into ``out``."""
    return build_openssl_c(SOURCE, out / "keepalive")


@dataclass(frozen=True, slots=True)
class ServerResult:
    received: int
    requests: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ClientResult:
    requests: int
    seconds: float
    """Measured inside the client, from after the handshake."""
    sent: int
    read: int
    cpu: float
    """The client process's user+sys seconds over the loop (Frida's threads included)."""
    thread_cpu: float
    """The loop thread's alone: what hooks cost on the hot path."""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @classmethod
    def load(cls, path: Path) -> ClientResult:
        r = json.loads(path.read_text(encoding="utf-8"))
        return cls(int(r["requests"]), float(r["seconds"]), int(r["sent"]), int(r["read"]),
                   float(r["cpu"]), float(r["thread_cpu"]))


def client_argv(exe: Path, port: int, pki: PKIFiles, seconds: float, body: int,
                result: Path) -> list[str]:
    return [str(exe), "client", str(port), str(pki.ca_cert), f"{seconds}", str(body),
            str(result)]


class KeepaliveServer:
    """The C server for one connection. Context manager; exit kills it if still running."""

    def __init__(self, exe: Path, pki: PKIFiles, work: Path) -> None:
        self.exe = exe
        self.pki = pki
        self.port_file = work / f"port-{time.monotonic_ns()}"
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> KeepaliveServer:
        self.proc = subprocess.Popen(
            [str(self.exe), "server", str(self.port_file), str(self.pki.cert),
             str(self.pki.key)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not (self.port_file.is_file() and self.port_file.read_text().endswith("\n")):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self._kill()
                raise EnvironmentError_("the keep-alive server did not start")
            time.sleep(0.01)
        self.port = int(self.port_file.read_text())
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._kill()

    def result(self, timeout: float = 30.0) -> ServerResult:
        """Wait for the connection to end; what the server received."""
        assert self.proc is not None
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            self._kill()
            raise EnvironmentError_("the keep-alive server did not finish") from exc
        if self.proc.returncode != 0:
            raise EnvironmentError_(f"the keep-alive server failed: {err.strip()[:500]}")
        r = json.loads(out)
        return ServerResult(int(r["received"]), int(r["requests"]), str(r["sha256"]))

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.communicate(timeout=5)
        self.port_file.unlink(missing_ok=True)

"""JVM stand-ins with real Android/SDK names, compiled at test time, and the driver app.

``compile_fixtures`` runs ``javac`` over ``harness/testing/java`` (see its README) into two
class directories: ``classes`` (everything but Umeng) and ``late`` (Umeng only, loaded later
through its own URLClassLoader, to prove late classes get hooked). ``JavaDriver`` runs
``egress.testapp.Driver`` and sends it one command per line; ``JavaHookRun`` injects the agent
with Frida, calls ``init`` and decodes every batch with :func:`harness.protocol.decode_batch`.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import frida

from harness.agent.unmapped import wait_unmapped
from harness.errors import HarnessError
from harness.protocol import JSON, Batch, ProtocolViolation, Record, decode_batch

SOURCES = Path(__file__).parent / "java"
SYSTEM_JARS = (
    Path("/usr/share/java/okhttp.jar"),
    Path("/usr/share/java/okio.jar"),
    Path("/usr/share/java/com.android.json.jar"),
)
LATE_PACKAGES = (Path("com/umeng"), Path("egress/plugin"))


@dataclass(frozen=True)
class Fixtures:
    classes: Path
    """Stand-ins (all but Umeng) and the driver."""
    late: Path
    """Umeng's stand-in and a plugin calling it: loaded through their own URLClassLoader."""
    driver_only: Path
    """The driver alone: a JVM where no Android or SDK class exists."""

    def classpath(self, *, with_fixtures: bool = True) -> str:
        first = self.classes if with_fixtures else self.driver_only
        return ":".join([str(first), *(str(j) for j in SYSTEM_JARS)])


def compile_fixtures(out: Path) -> Fixtures:
    """javac every stand-in and the driver into ``out``."""
    classes = out / "classes"
    late = out / "late"
    sources = sorted(str(p) for p in SOURCES.rglob("*.java"))
    cp = ":".join(str(j) for j in SYSTEM_JARS)
    proc = subprocess.run(["javac", "-nowarn", "-d", str(classes), "-cp", cp, *sources],
                          capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        raise HarnessError(f"javac failed: {proc.stderr[-2000:]}")
    for package in LATE_PACKAGES:
        (late / package).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(classes / package), str(late / package))
    driver_only = out / "driver_only"
    shutil.copytree(classes / "egress" / "testapp", driver_only / "egress" / "testapp")
    return Fixtures(classes, late, driver_only)


def make_truststore(cert_pem: Path, out: Path) -> Path:
    """A PKCS12 trust store holding one certificate, for ``-Djavax.net.ssl.trustStore``."""
    store = out / "trust.p12"
    store.unlink(missing_ok=True)
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "test", "-file",
                    str(cert_pem), "-keystore", str(store), "-storetype", "PKCS12",
                    "-storepass", "changeit"], capture_output=True, timeout=60, check=True)
    return store


class JavaDriver:
    """``egress.testapp.Driver`` in a JVM: start, send commands, stop (never throws)."""

    def __init__(self, classpath: str, truststore: Path | None, *, timeout: float = 60.0) -> None:
        args = ["java", "-Xshare:auto", "-cp", classpath]
        if truststore is not None:
            args[1:1] = [f"-Djavax.net.ssl.trustStore={truststore}",
                         "-Djavax.net.ssl.trustStorePassword=changeit",
                         "-Djavax.net.ssl.trustStoreType=PKCS12"]
        self.timeout = timeout
        self.proc = subprocess.Popen([*args, "egress.testapp.Driver"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.wait_for("ready")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            for line in self.proc.stdout:
                with self._cond:
                    self._lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
        except (OSError, ValueError):
            pass  # the pipe was closed under us (a reader that outlived close()'s join)
        with self._cond:
            self._lines.append("<eof>")
            self._cond.notify_all()

    def wait_for(self, prefix: str) -> str:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                for i, line in enumerate(self._lines):
                    if line.startswith(prefix) or line == "<eof>":
                        del self._lines[: i + 1]
                        if line == "<eof>":
                            raise HarnessError(f"driver exited waiting for {prefix!r}")
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HarnessError(f"driver: no {prefix!r} within {self.timeout}s")
                self._cond.wait(left)

    def command(self, line: str) -> str:
        """Run one command; returns what the driver answered after ``ok <cmd> ``."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.wait_for(f"ok {line.split(' ')[0]} ")
        return answer.split(" ", 2)[2]

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)
        finally:
            # The reader ends at EOF once the JVM is gone: join it before closing its pipe.
            self._reader.join(timeout=5)
            for s in (self.proc.stdout, self.proc.stderr):
                if s is not None:
                    s.close()

    def __enter__(self) -> JavaDriver:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def build_agent(hooks_dir: Path) -> str:
    """The agent bundle (frida.Compiler over hooks/src/index.ts)."""
    compiler = frida.Compiler()  # type: ignore[no-untyped-call]
    try:
        return compiler.build("src/index.ts", project_root=str(hooks_dir))
    except frida.InvalidArgumentError as exc:
        raise HarnessError(f"agent build failed: {exc}") from exc


class JavaHookRun:
    """The agent injected into one process; collects decoded batches until closed."""

    def __init__(self, pid: int, source: str, config: Mapping[str, JSON]) -> None:
        self.batches: list[Batch] = []
        self.errors: list[str] = []
        self.data: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self.pid = pid
        self.session = frida.get_local_device().attach(pid)
        self.script = self.session.create_script(source)
        self.script.on("message", self._on_message)
        self.script.load()
        self.reports: list[Mapping[str, JSON]] = self.script.exports_sync.init(dict(config))

    def _on_message(self, message: frida.ScriptMessage, data: bytes | None) -> None:
        if message["type"] != "send":
            self.errors.append(str(message))
            return
        payload = message["payload"]
        if not isinstance(payload, dict):
            self.errors.append(f"bad payload {payload!r:.100}")
            return
        try:
            batch = decode_batch(payload, data)
        except ProtocolViolation as exc:
            self.errors.append(str(exc))
            return
        with self._lock:
            self.batches.append(batch)
            self.data[batch.seq] = data or b""

    def records(self) -> list[Record]:
        with self._lock:
            return [r for b in self.batches for r in b.records]

    def slices(self) -> list[tuple[Record, bytes]]:
        """Every record with its batch data (to resolve transform input/output slices)."""
        with self._lock:
            return [(r, self.data[b.seq]) for b in self.batches for r in b.records]

    def flush(self) -> None:
        self.script.exports_sync.flush()
        time.sleep(0.2)

    def hook_reports(self) -> list[Mapping[str, JSON]]:
        """Coverage as the agent's status() reports it now (late installs included)."""
        status = self.script.exports_sync.status()
        hooks = status["hooks"] if isinstance(status, dict) else status
        return list(hooks)

    def dispose(self) -> None:
        """Flush and take the hooks out (the agent's ``dispose``); the script stays loaded."""
        with contextlib.suppress(frida.InvalidOperationError, frida.TransportError,
                                 frida.ProcessNotFoundError):
            self.script.exports_sync.dispose()

    def close(self) -> None:
        """Flush, unload and detach.

        Unloading waits for every thread still inside a replaced function to return: a JVM
        thread blocked in a hooked ``read()`` of its stdin keeps it waiting as long as the
        read blocks. Callers that own the process call :meth:`dispose`, end the process (its
        reads return), then ``close``, as :func:`tests.hooks_java.support.hooked` does."""
        for step in (self.dispose, self.script.unload, self.session.detach):
            try:
                step()
            except (frida.InvalidOperationError, frida.TransportError, frida.ProcessNotFoundError):
                continue
        # detach returns while the agent is still unloading in the JVM: ending the JVM in
        # that window crashed it in agent code (harness.agent.unmapped)
        wait_unmapped(self.pid)

    def __enter__(self) -> JavaHookRun:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def resolve(ref: JSON, data: bytes) -> bytes | None:
    """The bytes of a transform's ``input``/``output``: base64 text once decoded by
    :func:`harness.protocol.decode_batch`, or a raw ``[offset, length]`` slice of ``data``."""
    if isinstance(ref, str):
        return base64.b64decode(ref)
    if not (isinstance(ref, list) and len(ref) == 2):
        return None
    off, length = ref
    if not isinstance(off, int) or not isinstance(length, int):
        return None
    return data[off : off + length]

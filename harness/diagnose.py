"""What ``harness doctor`` checks on this machine: each check is one :class:`Check` with its fix.

Every check runs for real (a process is spawned and the agent loaded into it, the cache dir is
written to) and none raises: a failure is a :class:`Check` whose ``ok`` is false and whose
``fix`` says what to do. ``required`` separates what the harness cannot run without (frida,
the agent, the JDK for the lab browser) from what only some tests need (Debian's OkHttp and
BoringSSL, Chromium for the report test, a C compiler); a missing optional piece is a warning.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["Check", "Status", "host_checks", "ptrace_hint"]

TOOL_TIMEOUT = 20.0
"""Seconds a ``--version`` of one tool may take."""
FRIDA_TIMEOUT = 60.0
"""Seconds the spawn + attach + agent load check may take before it is reported as hung."""
APT = "apt-get install"


class Status(StrEnum):
    OK = "ok"
    MISSING = "MISSING"
    WARN = "WARN"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of ``harness doctor``."""

    name: str
    ok: bool
    required: bool
    """A required check that fails makes ``harness doctor`` exit with the environment code."""
    detail: str
    """What was found (a version, a path, or the error)."""
    fix: str
    """What to do when not ok; empty when ok."""

    @property
    def status(self) -> Status:
        if self.ok:
            return Status.OK
        return Status.MISSING if self.required else Status.WARN

    def to_json(self) -> dict[str, str | bool]:
        return {"name": self.name, "status": self.status.value, "ok": self.ok,
                "required": self.required, "detail": self.detail, "fix": self.fix}


def _ok(name: str, detail: str, *, required: bool = True) -> Check:
    return Check(name, True, required, detail, "")


def _bad(name: str, detail: str, fix: str, *, required: bool = True) -> Check:
    return Check(name, False, required, detail, fix)


def _version_of(argv: Sequence[str]) -> str:
    """First non-empty line a ``--version`` prints (some tools print it on stderr)."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=TOOL_TIMEOUT,
                          check=False)
    if proc.returncode != 0:
        raise OSError(f"{' '.join(argv)} exited {proc.returncode}: "
                      f"{(proc.stderr or proc.stdout).strip()[:200]}")
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        if line.strip():
            return line.strip()
    return "(no version printed)"


def _tool(name: str, exe: str, version_args: Sequence[str], fix: str, *,
          required: bool = True) -> Check:
    path = shutil.which(exe)
    if path is None:
        return _bad(name, f"{exe} is not on PATH", fix, required=required)
    try:
        version = _version_of([path, *version_args])
    except (OSError, subprocess.SubprocessError) as exc:
        return _bad(name, f"{path} does not run: {exc}", fix, required=required)
    return _ok(name, f"{version} ({path})", required=required)


def check_python() -> Check:
    v = sys.version_info
    text = f"Python {v.major}.{v.minor}.{v.micro} ({sys.executable})"
    if (v.major, v.minor) < (3, 11):
        return _bad("python", text, "use Python 3.11 or newer")
    return _ok("python", text)


def check_frida_package() -> Check:
    fix = "pip install 'frida>=17.2,<18'"
    try:
        frida = importlib.import_module("frida")
    except ImportError as exc:
        return _bad("frida", f"the frida package does not import: {exc}", fix)
    version = str(getattr(frida, "__version__", "?"))
    if not version.startswith("17."):
        return _bad("frida", f"frida {version}: the agent is built for Frida 17", fix)
    if not hasattr(frida, "Compiler"):
        return _bad("frida", f"frida {version} has no Compiler (the agent build needs it)", fix)
    return _ok("frida", f"frida {version} ({Path(str(frida.__file__)).parent})")


def ptrace_hint() -> str:
    """Why the kernel may refuse Frida's ptrace, and the fix; empty when nothing stands out."""
    scope = Path("/proc/sys/kernel/yama/ptrace_scope")
    try:
        value = scope.read_text(encoding="ascii").strip()
    except OSError:
        value = ""
    if value in ("1", "2") and os.geteuid() != 0:
        return (f"kernel.yama.ptrace_scope is {value}: run as root or "
                "`sudo sysctl kernel.yama.ptrace_scope=0`")
    if value == "3":
        return "kernel.yama.ptrace_scope is 3 (ptrace disabled until reboot): reboot with it ≤ 1"
    return ("in a container, allow ptrace (docker run --cap-add SYS_PTRACE "
            "--security-opt seccomp=unconfined)")


def _spawn_attach(load_agent: str | None) -> tuple[str, str | None]:
    """Spawn a short real process, attach, optionally load the agent and read its ABI, kill.

    Returns (what happened, the agent's ABI result or None). Raises frida errors as they come.
    """
    frida = importlib.import_module("frida")
    from harness.protocol import ABI_VERSION

    device = frida.get_local_device()
    argv = [sys.executable, "-c", "import time; time.sleep(30)"]
    pid = device.spawn(argv)
    abi: str | None = None
    try:
        session = device.attach(pid)
        try:
            if load_agent is not None:
                script = session.create_script(load_agent)
                script.load()
                try:
                    version = int(script.exports_sync.abi_version())
                    abi = (f"agent ABI {version} matches the harness" if version == ABI_VERSION
                           else f"MISMATCH: agent ABI {version}, harness {ABI_VERSION}")
                finally:
                    script.unload()
        finally:
            session.detach()
    finally:
        with contextlib.suppress(frida.ProcessNotFoundError):
            device.kill(pid)
    return f"spawned, attached to and killed pid {pid} ({device.name})", abi


def check_frida_device(agent_source: str | None) -> list[Check]:
    """``frida-local``, and ``agent-abi`` when an agent was built to load."""
    result: list[tuple[str, str | None]] = []
    error: list[BaseException] = []

    def work() -> None:
        try:
            result.append(_spawn_attach(agent_source))
        except Exception as exc:  # noqa: BLE001  # any frida failure is this check's detail
            error.append(exc)

    worker = threading.Thread(target=work, name="doctor-frida", daemon=True)
    worker.start()
    worker.join(FRIDA_TIMEOUT)
    hint = ptrace_hint()
    if worker.is_alive():
        return [_bad("frida-local", f"spawn/attach did not finish in {FRIDA_TIMEOUT:.0f} s",
                     hint)]
    if error:
        exc = error[0]
        kind = type(exc).__name__
        return [_bad("frida-local", f"{kind}: {exc}",
                     hint if "ermission" in kind + str(exc) or "ptrace" in str(exc)
                     else f"check `frida-ps` works here; {hint}")]
    what, abi = result[0]
    checks = [_ok("frida-local", what)]
    if abi is not None:
        if abi.startswith("MISMATCH"):
            checks.append(_bad("agent-abi", abi, "rebuild the agent from this checkout "
                               "(harness cache --clear agent)"))
        else:
            checks.append(_ok("agent-abi", abi))
    return checks


def check_node_modules(hooks: Path) -> Check:
    fix = f"cd {hooks} && npm ci"
    if not (hooks / "package.json").is_file():
        return _bad("hooks-npm", f"no agent project at {hooks}", "run from a source checkout")
    try:
        wanted = json.loads((hooks / "package.json").read_text(encoding="utf-8")).get(
            "dependencies", {})
    except (OSError, ValueError, AttributeError) as exc:
        return _bad("hooks-npm", f"{hooks}/package.json is unreadable: {exc}",
                    "restore hooks/package.json from git")
    missing = [m for m in sorted(wanted) if not (hooks / "node_modules" / m).is_dir()]
    if missing:
        return _bad("hooks-npm", f"{hooks}/node_modules lacks {', '.join(missing)}", fix)
    stale = _stale_packages(hooks / "package-lock.json",
                            hooks / "node_modules" / ".package-lock.json")
    if stale:
        return _bad("hooks-npm", f"node_modules differs from package-lock.json: "
                    f"{', '.join(stale)}", fix)
    return _ok("hooks-npm", f"{hooks}/node_modules installed")


def _stale_packages(lock: Path, installed: Path) -> list[str]:
    """Packages whose installed version is not the lock file's (npm ci writes the installed
    tree to node_modules/.package-lock.json); empty when either file is unreadable."""
    try:
        want = json.loads(lock.read_text(encoding="utf-8"))["packages"]
        have = json.loads(installed.read_text(encoding="utf-8"))["packages"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    out = []
    for path, meta in want.items():
        if not path or not isinstance(meta, dict):
            continue  # "" is the project itself
        got = have.get(path, {}).get("version") if isinstance(have.get(path), dict) else None
        if got != meta.get("version"):
            name = path.removeprefix("node_modules/")
            out.append(f"{name} {got or 'absent'} (lock: {meta.get('version')})")
    return out


def check_agent_build(hooks: Path) -> tuple[Check, str | None]:
    """``agent-build`` and the bundle's source (to load for the ABI check) when it built."""
    try:
        from harness.agent.bundle import build_agent
        from harness.errors import HarnessError
    except ImportError as exc:  # frida missing: already its own line
        return _bad("agent-build", f"cannot import the agent builder: {exc}",
                    "pip install 'frida>=17.2,<18'"), None
    try:
        bundle = build_agent(hooks)
    except HarnessError as exc:
        return _bad("agent-build", str(exc), getattr(exc, "fix", None) or
                    f"cd {hooks} && npm ci"), None
    size = len(bundle.source.encode()) // 1024
    return _ok("agent-build", f"{size} KiB, sha256 {bundle.sha256[:12]} ({bundle.path})"), \
        bundle.source


def check_cache_dir() -> Check:
    from harness.cachedir import cache_dir

    path = cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".doctor-") as fh:
            fh.write(b"ok")
            fh.flush()
    except OSError as exc:
        return _bad("cache-dir", f"{path} is not writable: {exc.strerror or exc}",
                    "set XDG_CACHE_HOME to a writable directory")
    return _ok("cache-dir", f"{path} writable")


COMPILED = (
    # (check, module, Debian packages it builds against, what analysis does without it)
    ("hpack-c", "harness.parse._hpack", "libnghttp2-dev zlib1g-dev libdeflate-dev",
     "builds the HTTP/2 header decoder; analyze cannot read HTTP/2 without it"),
    ("http1-c", "harness.parse._http1", "zlib1g-dev libdeflate-dev",
     "builds the compiled HTTP/1.x parser; without it analysis is slower, its messages the "
     "same"),
    ("inflate-c", "harness.parse._inflate", "zlib1g-dev libdeflate-dev",
     "builds the compiled gzip/deflate decoder; without it analysis is slower, its results "
     "the same"),
    ("detector-c", "harness.detect._detect", "libhyperscan-dev libdeflate-dev",
     "builds the compiled detector; without it analysis is slower, its findings the same"),
    ("capture-c", "harness.capture._rows", "libsqlite3-dev",
     "builds the compiled capture reader; without it analysis is slower, its results the "
     "same"),
    ("store-c", "harness.parse._store", "libsqlite3-dev",
     "builds the compiled message store writer; without it analysis is slower, its results "
     "the same"),
    ("outjson-c", "harness.detect._outjson", "",
     "builds the compiled findings.json writer and numbering; without it analysis is "
     "slower, its results the same"),
    ("classify-c", "harness.classify._classify", "",
     "builds the compiled destination classifier; without it analysis is slower, its "
     "results the same"),
)
"""The compiled parts (setup.py's extensions, tests/test_extensions.py keeps the two lists
the same): each has a pure-Python fallback but the HTTP/2 header decoder."""


def check_import(name: str, module: str, fix: str, *, required: bool = True) -> Check:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return _bad(name, f"{module} does not import: {exc}", fix, required=required)
    version = getattr(mod, "__version__", None)
    return _ok(name, f"{module} {version or ''} importable".replace("  ", " "),
               required=required)


def check_files(name: str, paths: Sequence[Path], fix: str, *, required: bool) -> Check:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        return _bad(name, f"missing: {', '.join(missing)}", fix, required=required)
    return _ok(name, ", ".join(str(p) for p in paths), required=required)


def _multiarch() -> str:
    return str(sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu")


def host_checks(hooks: Path | None = None,
                progress: Callable[[Check], None] | None = None) -> list[Check]:
    """Every check of this machine, in the order they are printed."""
    if hooks is None:
        hooks = Path(__file__).resolve().parents[1] / "hooks"
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if progress is not None:
            progress(check)

    add(check_python())
    frida_check = check_frida_package()
    add(frida_check)
    add(_tool("node", "node", ["--version"], f"{APT} nodejs (Node 18 or newer)"))
    add(_tool("npm", "npm", ["--version"], f"{APT} npm"))
    add(check_node_modules(hooks))
    add(check_cache_dir())
    source: str | None = None
    if frida_check.ok:
        build, source = check_agent_build(hooks)
        add(build)
        for c in check_frida_device(source):
            add(c)
    else:
        add(_bad("agent-build", "not tried: the frida package is missing", frida_check.fix))
        add(_bad("frida-local", "not tried: the frida package is missing", frida_check.fix))
    add(check_import("hyperscan", "hyperscan", "pip install 'hyperscan>=0.7'"))
    for name, module, needs, without in COMPILED:
        apt = " ".join([APT, *needs.split(), "gcc"])
        add(check_import(name, module, f"{apt} && pip install -e . ({without})",
                         required=name == "hpack-c"))
    add(_tool("java", "java", ["-version"], f"{APT} openjdk-17-jdk-headless"))
    add(_tool("javac", "javac", ["-version"],
              f"{APT} openjdk-17-jdk-headless (the lab browser is built from source)"))
    java = Path("/usr/share/java")
    add(check_files("okhttp", [java / "okhttp.jar", java / "okio.jar"],
                    f"{APT} libokhttp-java (the Java hook tests use it)", required=False))
    lib = Path("/usr/lib") / _multiarch() / "android"
    add(check_files("boringssl", [lib / "libssl.so", lib / "libcrypto.so",
                                  Path("/usr/include/android/openssl/ssl.h")],
                    f"{APT} android-libboringssl android-libboringssl-dev (the C client tests)",
                    required=False))
    add(_tool("cc", "gcc", ["--version"], f"{APT} gcc (builds the test TLS clients)",
              required=False))
    add(_tool("chromium", "chromium", ["--version"],
              f"{APT} chromium (the report test opens report.html in it)", required=False))
    return checks

"""Builds the Frida agent (``hooks/``) with ``frida.Compiler``, caches it, checks its ABI.

The bundle is cached outside the repository, keyed by the SHA-256 of everything that goes
into it (the TypeScript sources, package.json, package-lock.json and frida's version), so a
second run loads in milliseconds and a changed source never loads a stale agent. The npm
``frida-compile`` CLI is not used: its ``frida`` binding downloads a prebuilt binary.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import frida

from harness.cachedir import cache_dir
from harness.errors import AgentError
from harness.protocol import ABI_VERSION

HOOKS_DIR = Path(__file__).resolve().parents[2] / "hooks"
"""The agent project in a source checkout."""


@dataclass(frozen=True, slots=True)
class AgentBundle:
    source: str
    sha256: str
    """Hash of the inputs the bundle was built from (sources, lock file, frida version)."""
    path: Path
    """Where the cached bundle lives."""


def source_hash(hooks: Path) -> str:
    h = hashlib.sha256()
    h.update(f"frida {frida.__version__}\n".encode())
    files = sorted(p for p in (hooks / "src").rglob("*.ts") if p.is_file())
    files += [hooks / "package.json", hooks / "package-lock.json", hooks / "tsconfig.json"]
    for p in files:
        if not p.is_file():
            continue
        h.update(str(p.relative_to(hooks)).encode() + b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def build_agent(hooks: Path | None = None, *, use_cache: bool = True) -> AgentBundle:
    """The agent bundle, from the cache when its inputs are unchanged."""
    root = hooks or HOOKS_DIR
    if not (root / "src" / "index.ts").is_file():
        raise AgentError(f"no agent sources at {root}", fix="run from a source checkout")
    if not (root / "node_modules" / "frida-java-bridge").is_dir():
        raise AgentError(f"the agent's npm dependencies are missing in {root}",
                         fix=f"cd {root} && npm ci")
    digest = source_hash(root)
    target = cache_dir() / f"agent-{digest[:32]}.js"
    if use_cache and target.is_file():
        return AgentBundle(target.read_text(encoding="utf-8"), digest, target)
    diagnostics: list[str] = []
    compiler = frida.Compiler()  # type: ignore[no-untyped-call]  # frida ships no stub for it
    compiler.on("diagnostics", lambda d: diagnostics.append(str(d)))
    try:
        source = compiler.build("src/index.ts", project_root=str(root))
    except frida.InvalidArgumentError as exc:  # type errors and missing modules land here
        detail = "; ".join(diagnostics) or str(exc)
        raise AgentError(f"the agent does not compile: {detail}") from exc
    except frida.NotSupportedError as exc:
        raise AgentError(f"frida.Compiler is not available: {exc}",
                         fix="pip install 'frida>=17.2,<18'") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(source)
    os.replace(tmp, target)
    return AgentBundle(source, digest, target)


class _Exports(Protocol):
    def abi_version(self) -> int: ...


class _Script(Protocol):
    @property
    def exports_sync(self) -> _Exports: ...


def check_abi(script: _Script) -> int:
    """Refuse an agent whose ABI differs from ``harness.protocol.ABI_VERSION``."""
    try:
        version = int(script.exports_sync.abi_version())
    except (frida.RPCException, frida.InvalidOperationError, ValueError, TypeError) as exc:
        raise AgentError(f"the agent does not report an ABI version: {exc}") from exc
    if version != ABI_VERSION:
        raise AgentError(
            f"agent ABI {version} does not match the harness ({ABI_VERSION})",
            fix="rebuild the agent from this checkout (harness cache --clear agent)",
        )
    return version

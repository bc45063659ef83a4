from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.agent.bundle import HOOKS_DIR, build_agent, source_hash
from harness.errors import AgentError


@pytest.fixture
def hooks_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dst = tmp_path / "hooks"
    shutil.copytree(HOOKS_DIR, dst, ignore=shutil.ignore_patterns("node_modules"))
    (dst / "node_modules").symlink_to(HOOKS_DIR / "node_modules")
    return dst


def test_builds_and_caches_by_source_hash(hooks_copy: Path) -> None:
    first = build_agent(hooks_copy)
    assert "abiVersion" in first.source
    assert first.path.is_file()
    again = build_agent(hooks_copy)
    assert again.sha256 == first.sha256
    assert again.path == first.path
    (hooks_copy / "src" / "extra.ts").write_text("export const x = 1;\n")
    assert source_hash(hooks_copy) != first.sha256


def test_type_error_is_an_agent_error(hooks_copy: Path) -> None:
    index = hooks_copy / "src" / "index.ts"
    index.write_text(index.read_text() + "\nconst broken: number = 'text';\n")
    with pytest.raises(AgentError, match="does not compile"):
        build_agent(hooks_copy)


def test_missing_node_modules_names_the_fix(hooks_copy: Path) -> None:
    (hooks_copy / "node_modules").unlink()
    with pytest.raises(AgentError, match="npm ci"):
        build_agent(hooks_copy)

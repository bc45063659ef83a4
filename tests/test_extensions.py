"""Every compiled part setup.py builds is built and importable, and `harness doctor` checks
each: the C modules' own tests skip when their module is missing (as an unbuilt checkout's
pure-Python fallback would run), so a build that silently left one out would otherwise pass
as a slower, untested harness."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from harness import diagnose

SETUP = Path(__file__).resolve().parents[1] / "setup.py"


def extensions() -> list[str]:
    """The module names of setup.py's ``Extension(...)`` calls, read without running it."""
    names = []
    for node in ast.walk(ast.parse(SETUP.read_text(encoding="utf-8"), str(SETUP))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "Extension"):
            first = node.args[0]
            assert isinstance(first, ast.Constant), f"{SETUP}:{node.lineno}: a computed name"
            assert isinstance(first.value, str), f"{SETUP}:{node.lineno}: a name not a str"
            names.append(first.value)
    return names


def test_setup_py_is_read() -> None:
    names = extensions()
    assert "harness.detect._detect" in names
    assert len(names) == len(set(names)) >= 7


@pytest.mark.parametrize("module", extensions())
def test_every_extension_is_built(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{module} is not built ({exc}): pip install -e . (or python setup.py "
                    "build_ext --inplace) after installing .ci/setup's apt packages")


def test_doctor_checks_every_extension() -> None:
    assert sorted(module for _, module, *_ in diagnose.COMPILED) == sorted(extensions())
    assert len({name for name, *_ in diagnose.COMPILED}) == len(diagnose.COMPILED)

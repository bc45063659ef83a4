"""YAML documents the user writes (scenarios, claims, needles), read with their positions.

One loader for all of them, so every one reports a broken file the same way: an
:class:`~harness.errors.InputError` naming the file, line and column, never a traceback,
whatever ruamel's error (a syntax error, a control character it refuses, a bad escape).
"""

from __future__ import annotations

from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from harness.errors import InputError


def load_yaml(text: str, path: str) -> Any:
    """The document in ``text`` (round-trip types: CommentedMap/CommentedSeq carry their
    line and column), or InputError."""
    try:
        return YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise InputError(f"not valid YAML: {exc.problem}", path=path,
                         line=mark.line + 1 if mark else None,
                         column=mark.column + 1 if mark else None) from exc
    except ReaderError as exc:
        at = exc.position if isinstance(exc.position, int) else 0
        char = exc.character
        code = char if isinstance(char, int) else ord(char[0]) if isinstance(char, str) and char \
            else 0
        raise InputError(f"not valid YAML: {exc.reason} (U+{code:04X})",
                         path=path, line=text.count("\n", 0, at) + 1,
                         column=at - (text.rfind("\n", 0, at) + 1) + 1) from exc
    except YAMLError as exc:
        raise InputError(f"not valid YAML: {exc}", path=path) from exc

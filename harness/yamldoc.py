"""YAML documents the user writes (scenarios, claims, needles), read with their positions.

One loader for all of them, so every one reports a broken file the same way: an
:class:`~harness.errors.InputError` naming the file, line and column, never a traceback,
whatever ruamel's error (a syntax error, a control character it refuses, a bad escape).
"""

from __future__ import annotations

import sys
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from harness.errors import InputError
from harness.text import is_text

MAX_VALUES = 100_000
"""Values a document may hold with its aliases expanded: far above any scenario or claims
file, far below what "billion laughs" (a kilobyte of nested aliases) expands to."""


def load_yaml(text: str, path: str) -> Any:
    """The document in ``text`` (round-trip types: CommentedMap/CommentedSeq carry their
    line and column), or InputError."""
    try:
        doc = YAML(typ="rt").load(text)
    except RecursionError as exc:  # the composer recurses per level: 600 [ are enough
        raise InputError("not valid YAML: nested too deeply", path=path) from exc
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
    except ValueError as exc:  # int() of a scalar beyond Python's digit limit
        raise InputError(f"not valid YAML: a number of more than {sys.get_int_max_str_digits()}"
                         " digits", path=path) from exc
    _check(doc, path)
    return doc


def _check(doc: Any, path: str) -> None:
    """Refuses what loads but no reader could use: aliases expanding past MAX_VALUES (each
    container counted once with its expanded size, so the check itself stays small), and
    text that is not Unicode (a lone surrogate escape, ``"\\ud83d"``), named by line."""
    size: dict[int, int] = {}
    todo: list[tuple[Any, bool]] = [(doc, False)]
    while todo:
        node, done = todo.pop()
        if not isinstance(node, CommentedMap | CommentedSeq) or (id(node) in size and not done):
            continue
        items = list(node.items()) if isinstance(node, CommentedMap) else list(enumerate(node))
        if not done:
            size[id(node)] = 0  # on the way down: seen (an alias to it is not walked again)
            todo.append((node, True))
            for key, value in items:
                for text in (key, value):
                    if isinstance(text, str) and not is_text(text):
                        line, column = position(node, key)
                        raise InputError("not Unicode text: a lone UTF-16 surrogate escape;"
                                         " write the character itself", path=path, line=line,
                                         column=column)
                todo.append((value, False))
            continue
        total = 1 + sum(size.get(id(v), 1) if isinstance(v, CommentedMap | CommentedSeq)
                        else 1 for _, v in items)
        size[id(node)] = total
        if total > MAX_VALUES:
            raise InputError(f"not accepted: its aliases expand to more than {MAX_VALUES}"
                             " values", path=path, line=position(node, None)[0])


def position(node: object, key: Any = None) -> tuple[int | None, int | None]:
    """Line and column (from 1) of ``node[key]`` (a mapping's value, a sequence's item), or
    of the node itself when the key has no position; (None, None) for a node without any."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return None, None
    try:
        if isinstance(node, CommentedMap) and key is not None:
            line, col = lc.value(key)
        elif isinstance(node, CommentedSeq) and isinstance(key, int):
            line, col = lc.item(key)
        else:
            line, col = lc.line, lc.col
    except (KeyError, IndexError, TypeError):
        line, col = lc.line, lc.col
    return int(line) + 1, int(col) + 1

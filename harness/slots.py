"""Instances of a frozen dataclass made without its ``__init__``, for the classes made by the
100,000 (Message, Finding).

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``: half the
cost of a Message read or streamed (~8 µs of its 27 fields), a third of numbering a Finding.
:func:`maker` writes a function that sets the slots straight, in field order, for the fields
as dataclasses writes ``__init__``; the class itself, frozen, is untouched. Only while the
class has no ``__post_init__`` (nothing would run it) and every field is an argument: else
the class itself. tests/parse/test_store.py and tests/detect/test_finding.py compare the two.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    """``cls(*values)``, positional and all of them, without ``cls.__init__``."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    if hasattr(cls, "__post_init__") or not all(f.init for f in fields(cls)):  # type: ignore[arg-type]
        return cls
    ns: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    ns.update({f"_set_{n}": getattr(cls, n).__set__ for n in names})
    # the source holds field names only (identifiers), as dataclasses' own __init__ does
    exec(f"def make({', '.join(names)}):\n    o = _new(_cls)\n"
         + "".join(f"    _set_{n}(o, {n})\n" for n in names) + "    return o\n", ns)
    make: Callable[..., T] = ns["make"]
    return make

"""Text from captured data, to and from bytes, without ever failing on it.

Captured strings are not always valid Unicode: bytes that were not UTF-8 (decoded with
``surrogateescape``), and lone UTF-16 surrogates from Java strings cut inside an emoji or
from JSON's ``"\\ud83d"`` escapes (``JSON.stringify`` writes them). UTF-8 can carry neither.
"""

from __future__ import annotations

import codecs
import re
from typing import Any


def _surrogates(exc: UnicodeError) -> tuple[bytes, int]:
    """Codec error handler for :func:`utf8`: U+DC80..U+DCFF back to the byte they stand for
    (as ``surrogateescape``), any other lone surrogate as its 3-byte form (as
    ``surrogatepass``)."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = bytearray()
    for ch in exc.object[exc.start:exc.end]:
        c = ord(ch)
        out += bytes([c - 0xDC00]) if 0xDC80 <= c <= 0xDCFF else ch.encode("utf-8", "surrogatepass")
    return bytes(out), exc.end


codecs.register_error("egress.surrogates", _surrogates)


def utf8(s: str) -> bytes:
    """A decoded text's bytes, never failing: the bytes a ``surrogateescape`` decode kept
    come back as they were, and a lone surrogate (JSON's ``"\\ud800"``, which
    ``JSON.stringify`` writes for a string cut inside an emoji) becomes its 3-byte form
    instead of an error."""
    return s.encode("utf-8", "egress.surrogates")


_SURROGATE = re.compile("[\\ud800-\\udfff]")


def is_digits(s: str) -> bool:
    """ASCII digits only. ``str.isdigit()`` also says yes to "²", which ``int()`` refuses,
    and to "٣", which it reads as 3: a device's or a file's text can hold either."""
    return s.isascii() and s.isdigit()


def is_text(s: str) -> bool:
    """No surrogate in ``s``: it is Unicode text UTF-8 can carry as it is (a command line's
    non-UTF-8 bytes reach Python as surrogates, through ``surrogateescape``)."""
    return _SURROGATE.search(s) is None


def no_lone_surrogates(value: Any) -> Any:
    """``value`` (JSON: str, list, dict...) with every lone surrogate as U+FFFD, for what
    goes on to UTF-8 (SQLite text, HTML, JSON files)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [no_lone_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {no_lone_surrogates(k): no_lone_surrogates(v) for k, v in value.items()}
    return value

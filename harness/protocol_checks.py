"""What a message from the agent must satisfy beyond its JSON shape, checked as it is decoded.

JSON gives integers of any size and strings with lone surrogates; the run dir's SQLite
store refuses both (an INTEGER column holds 64 bits, text must be valid UTF-8), and a
refused insert used to drop the whole batch, or a protocol error, with a log line. Length
fields that contradict the bytes they describe would feed the byte coverage the fail-closed
gate compares with the kernel's count. So :func:`harness.protocol.decode_record` checks
these here, and anything that does not fit raises :class:`ProtocolViolation`, which the
channel records as a protocol error with the raw message (never lost, never a crash).

A leaf module: :mod:`harness.protocol` imports it, and re-exports the names others use
(``ProtocolViolation``, ``is_int64``, ``INT64_MAX``, ``is_name``). The native records'
length check stays inline in :func:`harness.protocol.decode_native`, which runs per record
at full rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeAlias, TypeGuard

from harness.text import is_text

INT64_MAX = (1 << 63) - 1
"""The largest integer the run dir's INTEGER columns hold (SQLite refuses larger ones)."""


class ProtocolViolation(ValueError):
    """A message from the agent that does not fit this schema."""


def is_int(value: object) -> TypeGuard[int]:
    """An integer: ``true`` and ``false`` (Python bools are ints) are not."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_int64(value: object) -> TypeGuard[int]:
    """An integer SQLite can store (JSON gives Python integers of any size)."""
    return is_int(value) and -INT64_MAX - 1 <= value <= INT64_MAX


def is_name(value: object) -> TypeGuard[str]:
    """Text the agent makes up (a hook's name, a connection id, a module): no lone
    surrogate, which only a broken agent writes there and SQLite cannot store."""
    return isinstance(value, str) and (value.isascii() or is_text(value))


# --- the common members of a record -------------------------------------------------------


def record_seconds(kind: str, t: object) -> float:
    """A record's ``t`` (ms since the epoch) in seconds; finite, or a violation."""
    seconds = float(t) / 1000.0 if isinstance(t, float) or (type(t) is int and \
        abs(t) < 1 << 62) else math.nan
    if not math.isfinite(seconds):  # the store's REAL column refuses NaN (IntegrityError)
        raise ProtocolViolation(f"{kind}: t must be a finite number")
    return seconds


def record_ids(kind: str, tid: object, hook: object, conn: object
               ) -> tuple[int | None, str, str | None]:
    """A record's ``tid``, ``hook`` and ``conn``, checked storable."""
    if tid is not None and not is_int64(tid):
        raise ProtocolViolation(f"{kind}: tid must be an integer of 64 bits")
    if not is_name(hook):
        raise ProtocolViolation(f"{kind}: hook must be text without a lone surrogate")
    if conn is not None and not is_name(conn):
        raise ProtocolViolation(f"{kind}: conn must be text without a lone surrogate")
    return tid, hook, conn


def record_lengths(kind: str, body: bytes | None, olen: object, trunc: object
                   ) -> tuple[int | None, bool]:
    """A record's ``olen`` (the length before truncation; the body's own when absent) and
    ``trunc``, checked against the body they describe."""
    if olen is not None and not (is_int64(olen) and olen >= 0):
        raise ProtocolViolation(f"{kind}: olen must be an integer from 0 to 2**63-1")
    if trunc is not None and not isinstance(trunc, bool):
        raise ProtocolViolation(f"{kind}: trunc must be true or false")
    if body is not None:
        if olen is None:
            olen = len(body)
        elif olen < len(body) or (olen > len(body) and not trunc):
            # a cut body is flagged (a cut input or output slice flags it too)
            raise ProtocolViolation(f"{kind}: olen {olen} disagrees with a body of "
                                    f"{len(body)} bytes{'' if trunc else ' not cut'}")
    return olen, bool(trunc)


# --- kind-specific members -------------------------------------------------------------------

FieldCheck: TypeAlias = tuple[str, Callable[[object], bool]]
"""What a member must be, in words for the violation, and the test."""

_TEXT: FieldCheck = ("text or null", lambda v: v is None or isinstance(v, str))
_INT: FieldCheck = ("an integer of 64 bits or null", lambda v: v is None or is_int64(v))
_NAME: FieldCheck = ("text without a lone surrogate", is_name)

FIELD_CHECKS: Mapping[str, Mapping[str, FieldCheck]] = {
    # the members that become columns of the run dir's connections table
    "conn": {
        **dict.fromkeys(("layer", "transport", "local_ip", "peer_ip", "sni", "tls_version",
                         "cipher", "alpn", "library"), _TEXT),
        **dict.fromkeys(("fd", "local_port", "peer_port"), _INT),
    },
    # a hook's name and module become the hook and library of the native records citing
    # its index (a 16-bit member of NATIVE_HEADER)
    "hook": {
        "name": _NAME,
        "target": ("text without a lone surrogate, or null", lambda v: v is None or is_name(v)),
        "index": ("an integer from 0 to 65535 or null",
                  lambda v: v is None or (is_int64(v) and 0 <= v <= 0xFFFF)),
    },
    # a child its process waited for: the pid, and the raw wait status (a C int)
    "process": {
        "event": _TEXT,
        "child": _INT,
        "status": ("an integer of 32 bits or null",
                   lambda v: v is None or (is_int64(v) and -(1 << 31) <= v < 1 << 31)),
    },
}
"""Kind-specific members whose type the harness relies on beyond JSON (what is absent is
null), by record kind (a :class:`harness.protocol.RecordKind` value). The others are kept
as JSON, whatever they hold."""


def check_fields(kind: str, fields: Mapping[str, object]) -> None:
    """The kind-specific members of a record of ``kind`` against :data:`FIELD_CHECKS`."""
    checks = FIELD_CHECKS.get(kind)
    if checks is not None:
        for key, (want, ok) in checks.items():
            if not ok(fields.get(key)):
                raise ProtocolViolation(f"{kind}: {key} must be {want}, not "
                                        f"{fields.get(key)!r:.80}")

"""A JSON file someone else wrote (a HAR file, a run dir's derived files), read so that any
way it can be broken is an :class:`~harness.errors.InputError` naming it, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from harness.errors import InputError


def read_json_file(path: Path | str, *, encoding: str = "utf-8") -> object:
    """The document, or InputError: unreadable, not the encoding, not JSON (with line and
    column), an integer beyond Python's digit limit (int() raises ValueError), or nested
    deeper than the recursion limit (the decoder recurses per ``[`` or ``{``)."""
    p = str(path)
    try:
        with open(path, encoding=encoding) as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", path=p, line=exc.lineno,
                         column=exc.colno) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", path=p) from exc
    except ValueError as exc:
        raise InputError(f"not JSON: a number of more than {sys.get_int_max_str_digits()} "
                         "digits", path=p) from exc
    except RecursionError as exc:
        raise InputError("JSON nested too deeply", path=p) from exc

"""The C that writes Draft's slots (_http1, _hpack, _store) takes its fields from one list,
harness/parse/draftfields.h, and each extension checks it against Draft's ``__slots__`` when
it is set up: a class whose fields differ is refused with an error naming the first field
that differs, so a field added to Draft without a line there fails at once, and clearly."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.parse import _hpack, _http1, _store, http1, http2, rowcodec
from harness.parse.connection import parse_connection
from harness.parse.draft import Draft
from harness.parse.message import Message, MessageKind
from harness.parse.reassembly import ConnFacts, Flow
from tests.parse.test_h2_native import frame
from tests.parse.test_http1_c import _flow

FIELDS = [f.name for f in dataclasses.fields(Draft)]


def _like_draft(names: list[str]) -> Any:
    """A slots dataclass with these fields (each an object slot, as Draft's are)."""
    return dataclasses.make_dataclass("Other", names, slots=True)


def _http1_setup(cls: Any, tmp: Path) -> None:
    _http1.setup(cls, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW,
                 http1.finish_body, http1.MAX_HEAD)


def _hpack_setup(cls: Any, tmp: Path) -> None:
    _hpack.setup(cls, MessageKind.REQUEST, MessageKind.RESPONSE, MessageKind.RAW)


def _store_writer(cls: Any, tmp: Path) -> None:
    _store.Writer(tmp / "a.sqlite", "", "", "", cls, Message, rowcodec.VALUES,
                  rowcodec.KINDS, rowcodec.Dumps())


SETUPS: list[Callable[[Any, Path], None]] = [_http1_setup, _hpack_setup, _store_writer]


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize(("names", "why"), [
    (FIELDS[:-1], f"it has no {FIELDS[-1]} (field {len(FIELDS) - 1})"),
    ([*FIELDS, "extra"], f"it has 'extra' (field {len(FIELDS)}) too"),
    ([*FIELDS[:3], "sauce", *FIELDS[4:]], f"its field 3 is 'sauce', not {FIELDS[3]}"),
    ([FIELDS[1], FIELDS[0], *FIELDS[2:]], f"its field 0 is '{FIELDS[1]}', not {FIELDS[0]}"),
])
def test_a_draft_with_other_fields_is_refused_naming_the_field(
        setup: Callable[[Any, Path], None], names: list[str], why: str,
        tmp_path: Path) -> None:
    with pytest.raises(TypeError) as err:
        setup(_like_draft(names), tmp_path)
    assert str(err.value) == f"Other's fields are not the ones draftfields.h lists: {why}"
    _still_parses()


def _still_parses() -> None:
    """A refused set-up leaves the Draft set up before in place: both parsers still make
    Drafts (the store writer takes its class per Writer)."""
    facts = ConnFacts("c", "native.tls", "tls")
    (h1,) = parse_connection(_flow("out", b"GET /a HTTP/1.1\r\nHost: h.test\r\n\r\n", [], {}),
                             Flow("in"), facts)
    out = http2.PREFACE + frame(http2.HEADERS, http2.END_HEADERS | http2.END_STREAM, 1,
                                b"\x82\x87\x84")
    (h2,) = parse_connection(_flow("out", out, [], {}), Flow("in"), facts)
    assert (type(h1), h1.method, type(h2), h2.method) == (Draft, "GET", Draft, "GET")


@pytest.mark.parametrize("setup", SETUPS)
def test_fields_that_are_not_slots_are_refused(setup: Callable[[Any, Path], None],
                                               tmp_path: Path) -> None:
    """The C writes each field straight into its slot: a class whose __slots__ names the
    fields but holds no slots (set after the class was made) is refused, as is one without
    __slots__."""
    unslotted = type("Other", (), {})
    unslotted.__slots__ = tuple(FIELDS)
    with pytest.raises(TypeError) as err:
        setup(unslotted, tmp_path)
    assert str(err.value) == ("Other's fields are not the ones draftfields.h lists: its"
                              f" {FIELDS[0]} is not a writable object slot")
    with pytest.raises(TypeError) as err:
        setup(type("Plain", (), {}), tmp_path)
    assert str(err.value) == ("Plain's fields are not the ones draftfields.h lists: it has"
                              " no __slots__ tuple")

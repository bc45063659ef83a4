"""destinations.json's text in C (jsonindent.c's json_indented) against the reference,
json.dump(obj, indent=2, ensure_ascii=False) through the file's encoding (UTF-8, a lone
surrogate as its escape): the same bytes for generated documents of what it writes (nesting,
empty containers, any character, every float, big ints, str and int subclasses), and None
for all else, which write_destinations hands to json.dump."""

from __future__ import annotations

import enum
import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.testing.runbuilder import RunBuilder

outjson = pytest.importorskip("harness.detect._outjson")


def reference(obj: object) -> bytes:
    """What RunDir.write_json writes of a document that is not a list, but its last newline."""
    raw = io.BytesIO()
    fh = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace")
    json.dump(obj, fh, indent=2, sort_keys=False, ensure_ascii=False)
    fh.flush()
    return raw.getvalue()


class Label(str):
    """A str subclass: json writes its text."""


class Count(int):
    """An int subclass: json writes int.__repr__."""


class Level(enum.IntEnum):
    HIGH = 7


class Kind(enum.StrEnum):
    ONE = "one\u00e9"


class Ratio(float):
    """A float subclass: json compares it with its own methods, so it is json's to write."""


class Items(list[object]):
    """A list subclass: json iterates it its own way."""


class Pairs(dict[str, object]):
    """A dict subclass: json writes what its items() gives."""

    def items(self):  # type: ignore[override]
        return reversed(list(super().items()))


EDGE_CHARS = ["\ud800", "\udbff", "\udc00", "\udfff", "\x00", "\x1f", "\x7f", '"', "\\",
              "\n", "\r", "\t", "\b", "\f", "\u0080", "\u07ff", "\u0800", "\uffff",
              "\U00010000", "\U0010ffff", "/", "\u2028"]
TEXT = st.text(st.characters() | st.sampled_from(EDGE_CHARS), max_size=40)
INTS = (st.integers() | st.integers(-(2**200), 2**200)
        | st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64, 10**100]))
SCALARS = (st.none() | st.booleans() | INTS | st.floats() | TEXT | TEXT.map(Label)
           | INTS.map(Count) | st.just(Level.HIGH) | st.just(Kind.ONE))
DOCS = st.recursive(
    SCALARS,
    lambda inner: (st.lists(inner, max_size=5) | st.lists(inner, max_size=5).map(tuple)
                   | st.dictionaries(TEXT | TEXT.map(Label), inner, max_size=5)),
    max_leaves=40)
# what json writes its own way (or refuses): json_indented leaves them to it
OTHERS = (st.floats().map(Ratio) | st.lists(SCALARS, max_size=3).map(Items)
          | st.dictionaries(TEXT, SCALARS, max_size=3).map(Pairs)
          | st.dictionaries(st.integers() | st.floats() | st.booleans() | st.none(), SCALARS,
                            min_size=1, max_size=3)
          | st.sets(st.integers(), max_size=2) | st.just(object()) | st.just(b"bytes"))


@given(DOCS)
@example({})
@example([])
@example(())
@example({"": [[], {}, [[{}]]]})
@example({"a": {"b": {"c": []}}, "d": [1, [2, [3]]]})
@example([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1e16, 1.7976931348623157e308])
@example({"\ud800k\udfff": "\U0010ffff\x00"})
def test_same_bytes(doc: object) -> None:
    assert outjson.json_indented(doc) == reference(doc)


@given(DOCS, OTHERS, st.integers(0, 2))
def test_others_are_json_s(doc: object, other: object, where: int) -> None:
    """Anywhere in a document, one value json must write makes the whole json's."""
    wrapped = [doc, other] if where == 0 else {"k": [other, doc]} if where == 1 else other
    assert outjson.json_indented(wrapped) is None


def nested(depth: int) -> object:
    doc: object = 1
    for i in range(depth):
        doc = [doc] if i % 2 else {"k": doc}
    return doc


def test_depth() -> None:
    """100 levels of containers are written here; deeper, and a cycle, are json's (which
    says it is a cycle)."""
    assert outjson.json_indented(nested(100)) == reference(nested(100))
    assert outjson.json_indented(nested(101)) is None
    loop: list[object] = [1]
    loop.append({"again": loop})
    assert outjson.json_indented(loop) is None
    with pytest.raises(ValueError, match="Circular reference"):
        reference(loop)
    shared = [1, "x"]  # the same list twice is no cycle
    assert outjson.json_indented({"a": shared, "b": [shared]}) == reference(
        {"a": shared, "b": [shared]})


def test_int_beyond_str_limit() -> None:
    """An int of more digits than Python will print: json raises, so it is json's."""
    big = 10**5000
    assert outjson.json_indented({"n": big}) is None
    with pytest.raises(ValueError, match="digits"):
        reference({"n": big})


def test_long_strings() -> None:
    """Each escape, and a character of each UTF-8 length, at every place of a string of
    every length up to 40: put_str reads sixteen bytes at a time, the last few (fewer than
    sixteen: 1 to 3, 4 to 8, 9 to 15 are read differently) by load_part."""
    for n in range(41):
        plain = "".join(chr(ord("a") + i % 26) for i in range(n))
        docs: list[object] = [{plain: [plain]}]
        for c in [*EDGE_CHARS, "\u00e9", "\u00ff", "\u4e2d", "\U0001f600"]:
            for i in range(n):
                s = plain[:i] + c + plain[i + 1:]
                docs.append({s: [s]})
        for i in range(n):  # two: a quote, then a newline anywhere after it
            docs += [plain[:i] + '"' + plain[i + 1:j] + "\n" + plain[j + 1:]
                     for j in range(i + 1, n)]
        assert outjson.json_indented(docs) == reference(docs)


def test_write_json_text_is_write_json(tmp_path: Path) -> None:
    """write_json_text of json_indented's bytes makes the file write_json makes."""
    run = RunBuilder(tmp_path).build(analyze=False)
    doc = {"vendor": {"name": "x", "domains": ["a.com"]}, "d": [{"s": "\ud800\u00e9",
                                                                  "n": [1, 2.5, None]}]}
    old = run.write_json("old.json", doc).read_bytes()
    text = outjson.json_indented(doc)
    assert text is not None
    assert run.write_json_text("new.json", text).read_bytes() == old

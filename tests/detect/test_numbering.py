"""Findings numbered in the store's order in C (numbering.c) against the reference
(analysis.py's ``numbered(_store_order(found, numbers))``): the same Findings, field for
field and of the same types, for generated findings (runs of one message's, a message again
later, any excerpt) and for the shapes the C leaves to the reference; the classifier's ids
renumbered the same, host by host; each message's store id made once for both
(``names``)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.analysis import _store_order
from harness.detect.finding import Finding, Needle, findings_json
from harness.detect.findings import Found, numbered
from harness.device.base import NeedleClass

outjson = pytest.importorskip("harness.detect._outjson")

NEEDLES = [Needle("a", NeedleClass.DEVICE_ID, "x", "cli"),
           Needle("b", NeedleClass.BROWSING, "y", "cli"),
           Needle("\ud800é", NeedleClass.USER, "z", "cli")]
EXCERPTS = st.text(max_size=20) | st.sampled_from(["", "…a[[b]]c…", "[[\ud800]]"])
TIMES = st.none() | st.floats() | st.sampled_from([1796583065.8200746, 0])


def reference(found: list[Found], numbers: list[int]) -> list[Finding]:
    return numbered(_store_order(found, numbers))


def same(got: list[Finding] | None, want: list[Finding]) -> None:
    assert got is not None
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert type(g) is Finding
        for field in dataclasses.fields(Finding):
            a, b = getattr(g, field.name), getattr(w, field.name)
            assert type(a) is type(b), field.name
            assert a == b or (a != a and b != b), field.name  # NaN is not equal to itself


@given(st.lists(st.tuples(st.integers(1, 6), st.integers(0, 2), EXCERPTS, TIMES,
                          st.none() | st.sampled_from(["h", "\ud800"]), st.booleans()),
                max_size=25), st.permutations(range(1, 7)))
@example([(1, 0, "…a[[\x00]]\ufffd…", 1.0, "h", False)], [1, 2, 3, 4, 5, 6])
def test_numbered_in_order_is_the_reference(
        found_at: list[tuple[int, int, str, float | None, str | None, bool]],
        order: list[int]) -> None:
    numbers = [0, *order]
    found: list[Found] = [
        (NEEDLES[n], f"k{key}", (f"c{i % 3}",), text, host, None if i % 2 else "p", control,
         t) for i, (key, n, text, t, host, control) in enumerate(found_at)]  # type: ignore[misc]
    names: list[str | None] = [None] * len(numbers)
    same(outjson.numbered_in_order(found, numbers, Finding, names),
         reference(found, numbers))
    assert all(m is None or m == f"m{numbers[k]}" for k, m in enumerate(names))
    with_lines(found, numbers)
    # without names, and with names shorter than numbers (an id made for the call alone)
    same(outjson.numbered_in_order(found, numbers, Finding, None),
         reference(found, numbers))
    same(outjson.numbered_in_order(found, numbers, Finding, [None] * 3),
         reference(found, numbers))


def with_lines(found: list[Found], numbers: list[int]) -> None:
    """With line: the same Findings, and findings.json's text of them as the reference
    writes it (finding.py's json_lines)."""
    got = outjson.numbered_in_order(found, numbers, Finding, None, Finding.json_line)
    assert got is not None
    want = reference(found, numbers)
    same(got[0], want)
    assert got[1] == findings_json(want, compiled=False)


def test_lines_of_findings_of_other_types() -> None:
    """A Finding whose fields are not of its declared types has its line from line(), as
    findings_json writes it; where line() raises an Exception, the reference runs (None),
    numbering then findings_json, and raises what it raises; any other error is raised."""
    fine: Found = (NEEDLES[0], "k1", ("c",), "[[x]]", "h", None, False, 1.5)
    odd: Found = (NEEDLES[1], "k2", ("c",), "[[y]]", "h", None, False, 2)  # type: ignore[assignment]
    with_lines([fine, odd, fine], [0, 2, 1])
    bad: Found = (NEEDLES[1], "k2", ("c",), "[[y]]", object(), None, False, 2.5)  # type: ignore[assignment]
    assert outjson.numbered_in_order([fine, bad], [0, 1, 2], Finding, None,
                                     Finding.json_line) is None
    with pytest.raises(TypeError, match="must be a string"):
        findings_json(reference([fine, bad], [0, 1, 2]))

    def stop(f: Finding) -> str:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        outjson.numbered_in_order([odd], [0, 1, 2], Finding, None, stop)
    # a needle left to the reference after lines were written: None all the same
    assert outjson.numbered_in_order([fine, ("not a needle", *fine[1:])], [0, 1],  # type: ignore[list-item]
                                     Finding, None, Finding.json_line) is None


def test_lines_given_to_write_a_megabyte_at_a_time() -> None:
    """With write, the text comes in pieces of a megabyte or so (the buffer used again each
    time), the rest returned: all of it the reference's text. A message's findings and a
    needle's span the pieces' ends, so the text written once and copied again after
    (findinglines.c's put_again) is made again after each piece; each piece a memoryview
    released once write has returned."""
    long = "x" * 300
    found: list[Found] = [(NEEDLES[i % 3], f"k{1 + i // 7}", (f"c{i % 5}", long), f"[[{i}]]",
                           long if i % 2 else None, "p", False, 1.5 + i // 7)
                          for i in range(12_000)]
    numbers = list(range(1 + 12_000 // 7 + 1))
    pieces: list[bytes] = []
    views: list[memoryview] = []

    def write(view: memoryview) -> None:
        pieces.append(bytes(view))
        views.append(view)

    got = outjson.numbered_in_order(found, numbers, Finding, None, Finding.json_line, write)
    assert got is not None
    want = reference(found, numbers)
    same(got[0], want)
    assert b"".join([*pieces, got[1]]) == findings_json(want, compiled=False)
    assert len(pieces) >= 4
    assert all(1 << 20 <= len(p) < (1 << 20) + 4096 for p in pieces)
    with pytest.raises(ValueError, match="released"):
        bytes(views[0])

    def fail(view: memoryview) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        outjson.numbered_in_order(found, numbers, Finding, None, Finding.json_line, fail)


def test_excerpts_of_other_types() -> None:
    """An excerpt is taken as it is, whatever it is (found.c's are str), as the reference
    takes it."""
    found: list[Found] = [
        (NEEDLES[0], "k1", ("c",), (b"a", b"b", b"c", False, False), None, None, False, None),  # type: ignore[list-item]
        (NEEDLES[0], "k1", ("c",), None, None, None, False, None)]  # type: ignore[list-item]
    got = outjson.numbered_in_order(found, [0, 1], Finding, None)
    same(got, reference(found, [0, 1]))
    assert got is not None
    assert [f.excerpt for f in got] == [(b"a", b"b", b"c", False, False), None]
    # whose lines the reference cannot write: left to it
    assert outjson.numbered_in_order(found, [0, 1], Finding, None, Finding.json_line) is None


@pytest.mark.parametrize(("found", "numbers"), [
    ([(NEEDLES[0], "m1", (), "[[x]]", None, None, False, None)], [0, 1]),
    ([(NEEDLES[0], "k+1", (), "[[x]]", None, None, False, None)], [0, 1]),
    ([(NEEDLES[0], "k1", (), "[[x]]", None, None, False, None)], [0, 2**70]),
    ([(NEEDLES[0], "k1", (), "[[x]]", None, None, False, None)], [0, True]),
    ([(NEEDLES[0], "k1", (), "[[x]]", None, None, False)], [0, 1]),
    ([("not a needle", "k1", (), "[[x]]", None, None, False, None)],
     [0, 1]),
    ([(NEEDLES[0], "k9", (), "[[x]]", None, None, False, None)], [0, 1]),
])
def test_left_to_the_reference(found: list[Found], numbers: list[int]) -> None:
    """What the C does not take it hands back untouched (None): an id not "k<digits>", a
    number beyond a long long or not an int, a finding not an 8-tuple, a needle without a
    name, an id past the numbers."""
    assert outjson.numbered_in_order(found, numbers, Finding, None) is None


def test_every_width() -> None:
    """Store numbers of every width, negative too, and a long long's ends, in a message's
    store id (tagged writes two digits at a time from the end)."""
    widths = [v for k in range(19) for v in (10**k - 1, 10**k, 10**k + 1, -(10**k), 1 - 10**k)]
    numbers = [0, *widths, -(2**63), 2**63 - 1]
    found: list[Found] = [(NEEDLES[1], f"k{k}", (), "[[x]]", None, None,
                           False, None) for k in range(1, len(numbers))]
    names: list[str | None] = [None] * len(numbers)
    same(outjson.numbered_in_order(found, numbers, Finding, names),
         reference(found, numbers))
    assert names[1:] == [f"m{n}" for n in numbers[1:]]


def renumbered_reference(ids: list[str], numbers: list[int]) -> list[str]:
    return [f"m{n}" for n in sorted([numbers[int(i[1:])] for i in ids])]


@given(st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.permutations(range(n)), st.lists(st.integers(-1, 3), min_size=n, max_size=n),
    st.randoms(use_true_random=False))))
@example(([0], [0], random.Random(0)))
@example(([], [], random.Random(0)))
@example(([0, 3, 1, 2], [0, 0, 0, 0], random.Random(0)))
def test_renumbered_all_is_the_reference(
        case: tuple[list[int], list[int], random.Random]) -> None:
    """Numbers a permutation of their indexes (the store's, 0 the unused key's), each key
    under one of four hosts or none (-1), a host's ids in any order: each host's store ids
    in the store's order, as the reference sorts them; each made once, the same str for a
    message's findings and its host."""
    numbers, host_of, rnd = case
    lists: list[list[str]] = [[] for _ in range(4)]
    for key, host in enumerate(host_of):
        if host >= 0:
            lists[host].append(f"k{key}")
    for ids in lists:
        rnd.shuffle(ids)
    names: list[str | None] = [None] * len(numbers)
    keys = [k for k, h in enumerate(host_of) if h >= 0]
    found: list[Found] = [(NEEDLES[0], f"k{k}", (), "[[x]]", None, None,
                           False, None) for k in keys[::2]]
    made = outjson.numbered_in_order(found, numbers, Finding, names)
    got = outjson.renumbered_all(lists, numbers, names)
    assert got == [renumbered_reference(ids, numbers) for ids in lists]
    assert made is not None
    assert got is not None
    by_key = {f"m{numbers[k]}": names[k] for k in keys}
    assert all(m is by_key[m] for ids in got for m in ids)
    assert all(f.message is by_key[f.message] for f in made)


@pytest.mark.parametrize(("lists", "numbers"), [
    ([["k1"]], [0, 1, 1]),           # a number twice
    ([["k1"]], [0, 3, 1]),           # a number past the keys
    ([["k1"]], [0, -1, 2]),          # a negative number
    ([["k1"]], [0, 2**70, 2]),       # beyond a long long
    ([["k1"]], [0, True]),           # an int of another type
    ([["k1"], ["k1"]], [0, 1]),      # a key under two hosts
    ([["k1", "k1"]], [0, 1]),        # a key twice under one
    ([["k2"]], [0, 1]),              # a key past the numbers
    ([["m1"]], [0, 1]),              # not a key id
    ([["k+1"]], [0, 1]),
    ([("k1",)], [0, 1]),             # not a list
])
def test_renumbered_all_leaves_to_the_reference(lists: list[list[str]],
                                                numbers: list[int]) -> None:
    """What renumbered_all does not take it hands back (None), making no id."""
    names: list[str | None] = [None] * len(numbers)
    assert outjson.renumbered_all(lists, numbers, names) is None
    assert names == [None] * len(numbers)


def test_renumbered_all_without_names() -> None:
    """names None, or shorter than the numbers: the ids made for the call alone."""
    numbers = [0, 3, 1, 2]
    for names in (None, [None]):
        assert outjson.renumbered_all([["k1", "k3"], ["k2"]], numbers, names) == [
            ["m2", "m3"], ["m1"]]


def test_many_needles() -> None:
    """More needles than numbering.c keeps (64), in turns and each now and then again, for
    several messages in and out of order: each finding has its own needle's name and class."""
    needles = [Needle(f"n{i}", list(NeedleClass)[i % len(NeedleClass)], "v", "cli")
               for i in range(300)]
    rnd = random.Random(3)
    found: list[Found] = [
        (rnd.choice(needles), f"k{key}", ("c",), "a[[b]]c", None,
         None, False, None)
        for key in (3, 1, 2, 1) for _ in range(400)]
    numbers = [0, 2, 3, 1]
    same(outjson.numbered_in_order(found, numbers, Finding, None),
         reference(found, numbers))

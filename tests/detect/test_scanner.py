"""The matcher's scan in C (harness/detect/scanner.c, Hyperscan's C API through libhs)
against the python-hyperscan scan it replaced (``Matcher(compiled=False)``): the same
matches in the same order, for generated patterns and data; and the two copies of Hyperscan
(python-hyperscan's own, and libhs) in one process. Compiled each time (cache=False): the
database kept between runs is test_scanner_cache.py's."""

from __future__ import annotations

import gc

import hyperscan
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.derive import Pattern, derive
from harness.detect.finding import Needle
from harness.detect.matcher import Match, Matcher
from harness.device.base import NeedleClass

NEEDLE = Needle("id", NeedleClass.DEVICE_ID, "a1b2c3d4e5f60718", "device")

# few distinct bytes, so that patterns overlap, nest, repeat and end at the same offset;
# NUL (UTF-16 forms), a high byte and the bytes a regex would read as syntax
alphabet = st.sampled_from(b"aab\x00\xff\\.*x")
pattern_values = st.binary(min_size=4, max_size=8) | st.lists(alphabet, min_size=4, max_size=7
                                                              ).map(bytes)
data_ = st.lists(alphabet, max_size=120).map(bytes) | st.binary(max_size=120)


def patterns(values: list[bytes]) -> list[Pattern]:
    return [Pattern(NEEDLE, f"p{i}", v) for i, v in enumerate(values)]


def keyed(matches: list[Match], ps: list[Pattern]) -> list[tuple[int, int, int]]:
    """Which pattern (by index: two patterns may be equal), where."""
    ids = {id(p): i for i, p in enumerate(ps)}
    return [(ids[id(m.pattern)], m.start, m.end) for m in matches]


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(pattern_values, min_size=1, max_size=12), st.lists(data_, min_size=1,
                                                                   max_size=4))
@example([b"aaaa", b"aaaa", b"aaaaaa"], [b"a" * 20])  # the same end offset, many ids
@example([b"a\x00b\x00", b"\x00\x00\x00\x00"], [b"a\x00b\x00\x00\x00\x00\x00a\x00b\x00"])
@example([b"\\x41ab", b".*.*"], [b"\\x41ab.*.*", b"Aab"])  # bytes, not regex syntax
def test_the_c_scan_is_python_hyperscans(values: list[bytes], datas: list[bytes]) -> None:
    ps = patterns(values)
    c, ref = Matcher(ps, cache=False), Matcher(ps, compiled=False)
    for data in datas:
        assert keyed(c.scan(data), ps) == keyed(ref.scan(data), ps)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([p.value for p in derive(NEEDLE)]) | data_, max_size=6)
       .map(b" ".join))
def test_derived_patterns_in_payloads(data: bytes) -> None:
    ps = derive(NEEDLE)
    assert Matcher(ps, cache=False).scan(data) == Matcher(ps, compiled=False).scan(data)


def test_leftmost_starts_and_empty_cases() -> None:
    ps = patterns([b"abab", b"ab"])
    m = Matcher(ps, cache=False)
    # the start of each match, not 0 (HS_FLAG_SOM_LEFTMOST)
    assert keyed(m.scan(b"xxababab"), ps) == keyed(Matcher(ps, False).scan(b"xxababab"), ps) \
        == [(1, 2, 4), (0, 2, 6), (1, 4, 6), (0, 4, 8), (1, 6, 8)]
    assert m.scan(b"") == []
    assert Matcher([]).scan(b"abab") == []
    assert Matcher([], False).scan(b"abab") == []
    assert m.scan(bytearray(b"ab")) == [Match(ps[1], 0, 2)]


def test_bad_arguments_are_errors_not_crashes() -> None:
    with pytest.raises(TypeError):
        _detect.Scanner([b"abcd"], [], Match)  # one tag per value
    with pytest.raises(TypeError):
        _detect.Scanner(["abcd"], [1], Match)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        _detect.Scanner([b"abcd"], [1], None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pattern 0"):
        _detect.Scanner([b""], [1], Match)  # matches the empty buffer: Hyperscan refuses
    s = _detect.Scanner([b"abcd"], ["t"], lambda t, a, z: (t, a, z))
    with pytest.raises(TypeError):
        s.scan("abcd")  # type: ignore[arg-type]
    assert s.scan(b"abcdabcd") == [("t", 0, 4), ("t", 4, 8)]

    def refuse(tag: str, start: int, end: int) -> None:
        raise LookupError(tag)

    with pytest.raises(LookupError):
        _detect.Scanner([b"abcd"], ["t"], refuse).scan(b"abcd" * 40)


def test_both_hyperscans_in_one_process() -> None:
    """python-hyperscan links its own Hyperscan statically and exports none of it; scanner.c
    links libhs. Each must call its own, interleaved, with many databases alive."""
    ps = patterns([b"abcd", b"bcde"])
    scanners = [Matcher(ps, cache=False) for _ in range(50)]
    db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    db.compile(expressions=[rb"b[c]d"], flags=[hyperscan.HS_FLAG_SOM_LEFTMOST])
    got: list[tuple[int, int]] = []
    for s in scanners:
        got.clear()
        db.scan(b"abcde", match_event_handler=lambda i, a, z, f, c: got.append((a, z)))
        assert got == [(1, 4)]
        assert keyed(s.scan(b"abcde"), ps) == [(0, 0, 4), (1, 1, 5)]
    del scanners
    gc.collect()

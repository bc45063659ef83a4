"""harness.classify.domain's own reading of the public suffix list against
``publicsuffixlist.PublicSuffixList``, the reference it replaces (whose parser cost a
twentieth of a 20 MB ``harness analyze``): the same rules from the bundled list, the same
registrable domain for any name."""

from __future__ import annotations

from functools import cache

import publicsuffixlist
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.classify import domain


@cache
def _reference() -> publicsuffixlist.PublicSuffixList:
    return publicsuffixlist.PublicSuffixList(only_icann=True, accept_unknown=False)


def test_the_same_rules_as_the_library() -> None:
    rules = domain._Rules.bundled()
    assert "xn--fiqs8s" not in rules.known  # spelled when a name could be it
    assert "xn--fiqs8s" in rules
    assert "xn--fiqs8s" in rules.known
    assert rules.maxlabel == _reference()._maxlabel
    assert rules.every() == _reference()._publicsuffix
    rules = domain._Rules.bundled()
    # the ICANN section only, and the punycode spelling of a rule that is not ASCII
    assert "co.uk" in rules
    assert "blogspot.com" not in rules
    assert all(r in rules for r in ("*.ck", "!www.ck", "\u4e2d\u56fd", "xn--55qx5d.cn"))


def _suffixes() -> list[str]:
    """Every rule as a name: what a host ends with to reach each kind of rule."""
    return sorted({r.lstrip("!").removeprefix("*.") for r in domain._Rules.bundled().every()})


_LABEL = st.one_of(
    st.sampled_from(["www", "a", "b", "city", "co", "com", "ck", "kobe", "*", "!", "xn--x",
                     "B\u00dcCHER", "\u4f8b\u5b50", "\u0130", ""]),
    st.text("abcAB-\u00fc\u0130\u4e2d!*", min_size=1, max_size=4))


@st.composite
def _names(draw: st.DrawFn) -> str:
    head = draw(st.lists(_LABEL, max_size=4))
    tail = draw(st.one_of(st.just(""), st.sampled_from(_suffixes())))
    name = ".".join([*head, tail] if tail else head)
    return name + draw(st.sampled_from(["", ".", ".."]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_names(), min_size=1, max_size=4))
@example(["a.b.ck"])
@example(["www.ck"])
@example(["x.www.ck"])
@example(["city.kobe.jp"])
@example(["a.city.kobe.jp"])
@example(["a.b.c.d.e.f.g.h.kawasaki.jp"])
@example(["x.paroch.k12.ma.us"])
@example(["paroch.k12.ma.us"])
@example(["A.B\u00fcCHER.DE."])
@example(["x.xn--fiqs8s"])
@example(["a.xn--55qx5d.cn", "a.\u516c\u53f8.cn", "a.xn--aroport-bya.ci", "xn--x.cn"])
@example(["a.xn--od0alg.xn--fiqs8s", "!xn--55qx5d.cn", "*.xn--55qx5d.cn"])
@example(["x..com"])
@example(["."])
@example([""])
def test_the_same_private_suffix_as_the_library(names: list[str]) -> None:
    """Names in turn, against rules read afresh: each finds what the spellings made for
    the names before it left (or not)."""
    rules = domain._Rules.bundled()
    for name in names:
        assert domain._private_suffix(name, rules) == _reference().privatesuffix(name)


_ODD = """// ===BEGIN ICANN DOMAINS===
com
jp
de
\uff43\uff4f\uff4d
stra\u00dfe.de
a\u2024b.jp
\u00e9\u2024x.jp
*.\u00e9t\u00e9.jp
!\u00e9t\u00e9.jp
// ===END ICANN DOMAINS===
"""
"""Rules the codec spells oddly: to ASCII with no ``xn--`` (fullwidth letters, ß), with a
``.`` in a label's spelling (U+2024, which NFKC makes a full stop)."""


@pytest.mark.parametrize("name", [
    "x.com", "com", "x.strasse.de", "x.stra\u00dfe.de", "x.a.b.jp", "a.b.jp",
    "x.xn--.x-9ia.jp", "xn--.x-9ia.jp", "y.x.xn--t-9fab.jp", "x.xn--t-9fab.jp",
    "xn--t-9fab.jp", "x.\u00e9t\u00e9.jp", "!xn--t-9fab.jp"])
def test_rules_the_codec_spells_oddly(name: str) -> None:
    ref = publicsuffixlist.PublicSuffixList(_ODD, only_icann=True, accept_unknown=False)
    rules = domain._Rules(_ODD)
    assert domain._private_suffix(name, rules) == ref.privatesuffix(name)
    assert rules.every() == ref._publicsuffix

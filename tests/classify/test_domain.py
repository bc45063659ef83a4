"""harness.classify.domain's own reading of the public suffix list against
``publicsuffixlist.PublicSuffixList``, the reference it replaces (whose parser cost a
twentieth of a 20 MB ``harness analyze``): the same rules from the bundled list, the same
registrable domain for any name."""

from __future__ import annotations

from functools import cache

import publicsuffixlist
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.classify import domain


@cache
def _reference() -> publicsuffixlist.PublicSuffixList:
    return publicsuffixlist.PublicSuffixList(only_icann=True, accept_unknown=False)


def test_the_same_rules_as_the_library() -> None:
    rules, maxlabel = domain._rules()
    assert rules == _reference()._publicsuffix
    assert maxlabel == _reference()._maxlabel
    # the ICANN section only, and the punycode spelling of a rule that is not ASCII
    assert "co.uk" in rules
    assert "blogspot.com" not in rules
    assert {"*.ck", "!www.ck", "\u4e2d\u56fd", "xn--fiqs8s"} <= rules


def _suffixes() -> list[str]:
    """Every rule as a name: what a host ends with to reach each kind of rule."""
    return sorted({r.lstrip("!").removeprefix("*.") for r in domain._rules()[0]})


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


@settings(max_examples=1500)
@given(_names())
@example("a.b.ck")
@example("www.ck")
@example("x.www.ck")
@example("city.kobe.jp")
@example("a.city.kobe.jp")
@example("a.b.c.d.e.f.g.h.kawasaki.jp")
@example("x.paroch.k12.ma.us")
@example("paroch.k12.ma.us")
@example("A.B\u00fcCHER.DE.")
@example("x.xn--fiqs8s")
@example("x..com")
@example(".")
@example("")
def test_the_same_private_suffix_as_the_library(name: str) -> None:
    assert domain._private_suffix(name) == _reference().privatesuffix(name)

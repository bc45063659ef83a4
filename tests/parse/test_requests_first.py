"""The builder's order of a connection's drafts (``connection.requests_first``): responses
last, each part in its order, in C for a list of Drafts (``_hpack.responses_last``) and by
the sort it replaced for anything else; checked against that sort on generated lists."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.parse import _hpack
from harness.parse.connection import requests_first
from harness.parse.draft import Draft
from harness.parse.message import MessageKind


def _reference(drafts: list[Any]) -> list[Any]:
    return sorted(drafts, key=lambda d: d.kind is MessageKind.RESPONSE)


def _drafts(kinds: list[MessageKind]) -> list[Draft]:
    return [Draft(kind=k, t=0.0, direction="out", source="s", first_seq=i)
            for i, k in enumerate(kinds)]


class Sub(Draft):
    __slots__ = ()


class Kinded:
    def __init__(self, kind: MessageKind) -> None:
        self.kind = kind


@given(st.lists(st.sampled_from(list(MessageKind)), max_size=40))
def test_as_the_sort(kinds: list[MessageKind]) -> None:
    drafts = _drafts(kinds)
    want = _reference(drafts)
    refs = [sys.getrefcount(d) for d in drafts]
    assert _hpack.responses_last(drafts) is True  # every one a Draft: done in C
    assert [id(d) for d in drafts] == [id(d) for d in want]
    assert sorted(sys.getrefcount(d) for d in drafts) == sorted(refs)  # moved, not copied


@given(st.lists(st.sampled_from(list(MessageKind)), min_size=1, max_size=20),
       st.data())
def test_other_items_are_sorted_by_the_key(kinds: list[MessageKind], data: st.DataObject
                                           ) -> None:
    drafts: list[Any] = _drafts(kinds)
    i = data.draw(st.integers(0, len(drafts) - 1))
    other = data.draw(st.sampled_from(["sub", "kinded"]))
    k = drafts[i].kind
    drafts[i] = Sub(kind=k, t=0.0, direction="out", source="s", first_seq=i) \
        if other == "sub" else Kinded(k)
    want = _reference(drafts)
    before = list(drafts)
    assert _hpack.responses_last(drafts) is False
    assert drafts == before  # untouched: the caller sorts
    requests_first(drafts)
    assert [id(d) for d in drafts] == [id(d) for d in want]


def test_edges() -> None:
    empty: list[Draft] = []
    requests_first(empty)
    assert empty == []
    for kinds in ([MessageKind.RESPONSE] * 3, [MessageKind.REQUEST] * 3,
                  [MessageKind.RESPONSE, MessageKind.REQUEST, MessageKind.RAW,
                   MessageKind.RESPONSE, MessageKind.REQUEST]):
        drafts = _drafts(kinds)
        want = _reference(drafts)
        requests_first(drafts)
        assert [d.first_seq for d in drafts] == [d.first_seq for d in want]
    unset = Draft.__new__(Draft)  # no kind: the key's getattr raises, the list stays
    drafts = [*_drafts([MessageKind.RESPONSE, MessageKind.REQUEST]), unset]
    before = list(drafts)
    with pytest.raises(AttributeError):
        requests_first(drafts)
    assert drafts == before
    with pytest.raises(TypeError):
        _hpack.responses_last((1, 2))  # type: ignore[arg-type]

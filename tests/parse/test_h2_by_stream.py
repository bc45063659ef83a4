"""The client's requests by stream (``http2.requests_by_stream``), which the server's
responses answer: in C for a list of Drafts (``_hpack.by_stream``), by the Python loop it
replaced (``requests_by_stream_py``) for anything else; checked against that loop on
generated lists."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.parse import _hpack
from harness.parse.draft import Draft
from harness.parse.http2 import requests_by_stream, requests_by_stream_py
from harness.parse.message import MessageKind


class Sub(Draft):
    __slots__ = ()


class Meta(dict[str, Any]):
    pass


sids = st.one_of(st.integers(-3, 6), st.just(1 << 70), st.booleans(), st.none(),
                 st.sampled_from(["1", 1.0, b"1", (1,)]))
"""What meta["stream"] may hold: ints (True and False are ints too), and what is not."""
metas = st.one_of(st.just({}), st.builds(lambda s: {"stream": s}, sids),
                  st.builds(lambda s: {"interim": [100], "stream": s, "x": 1}, sids))
drafts = st.lists(st.builds(
    lambda k, m, i: Draft(kind=k, t=0.0, direction="out", source="s", first_seq=i, meta=m),
    st.sampled_from(list(MessageKind)), metas, st.integers(0, 99)), max_size=30)


def _same(got: dict[Any, Draft], want: dict[Any, Draft]) -> None:
    """The same keys in the same order, each naming the same draft"""
    assert [(type(k), k, id(d)) for k, d in got.items()] == \
        [(type(k), k, id(d)) for k, d in want.items()]


@given(drafts)
def test_as_the_loop(client: list[Draft]) -> None:
    refs = [sys.getrefcount(d) for d in client]
    want = requests_by_stream_py(client)
    got: dict[int, Draft] = {}
    assert _hpack.by_stream(client, got) is True  # every one a Draft: done in C
    _same(got, want)
    _same(requests_by_stream(client), want)
    del got, want
    assert [sys.getrefcount(d) for d in client] == refs  # nothing leaked or lost


@given(drafts.filter(bool), st.data())
def test_other_lists_are_left_to_the_loop(client: list[Any], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(client) - 1))
    d = client[i]
    other = data.draw(st.sampled_from(["sub", "meta", "unset"]))
    if other == "sub":
        client[i] = Sub(kind=d.kind, t=0.0, direction="out", source="s", first_seq=0,
                        meta=d.meta)
    elif other == "meta":
        client[i] = Draft(kind=MessageKind.REQUEST, t=0.0, direction="out", source="s",
                          first_seq=0, meta=Meta(d.meta))
    else:
        del client[i].kind
    got: dict[int, Draft] = {}
    assert _hpack.by_stream(client, got) is False
    assert got == {}  # untouched: the loop decides
    if other == "unset":
        with pytest.raises(AttributeError):
            requests_by_stream(client)
    else:
        _same(requests_by_stream(client), requests_by_stream_py(client))


def test_edges() -> None:
    assert requests_by_stream([]) == {}
    a, b, c = (Draft(kind=MessageKind.REQUEST, t=0.0, direction="out", source="s",
                     first_seq=i, meta={"stream": 1}) for i in range(3))
    c.meta = {"stream": 3}
    got = requests_by_stream([a, b, c])
    assert list(got) == [1, 3]
    assert got[1] is b  # the last for a stream
    assert got[3] is c
    with pytest.raises(TypeError):
        _hpack.by_stream((a,), {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _hpack.by_stream([a], [])  # type: ignore[arg-type]

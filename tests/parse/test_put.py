"""The C writer's ``put`` (``_store.c``, ``draftstamp.c``: the builder's loop over a
connection's drafts, each message made of its draft in place) against ``put_drafts`` (the
reference): on generated batches of drafts (the odd values of test_store_c's drafts, hosts to
stamp from SNI, a peer host or DNS, times in and out of generated phases, requests within a
batch and in earlier ones, shared meta dicts, Java stack records), the same messages in the
same lists, the same store and the same stamps state after each batch; or the same error."""

from __future__ import annotations

import copy
import dataclasses
import functools
import gc
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bench.storediff import rows as store_rows
from harness.capture.runinfo import Phase
from harness.parse import store
from harness.parse.draft import Draft
from harness.parse.message import Message, MessageKind
from harness.parse.rowcodec import KINDS, VALUES, Dumps
from harness.parse.stamps import DnsNames, PhaseClock, Stamps, put_drafts
from tests.parse.test_stamps import phases
from tests.parse.test_store_c import _drafts, _plain

pytestmark = pytest.mark.skipif(store._store is None, reason="unreachable: setup builds it")

_IPS = ["10.0.0.1", "10.0.0.2", "", None]
_times = st.sampled_from([0.5, 1.0, 2.0, 2.5, 3.0, 7.5, 11.0, math.nan, -0.0]) \
    | st.integers(0, 12) | st.floats(-1, 13)


@st.composite
def _batch(draw: st.DrawFn) -> tuple[list[Draft], str | None]:
    """A batch of drafts to stamp, and its peer host."""
    drafts = draw(st.lists(_drafts(), min_size=1, max_size=5))
    for d in drafts:
        if draw(st.integers(0, 3)):  # mostly a usual time, against the phases
            d.t = draw(_times)
        if draw(st.booleans()):  # a host to stamp
            d.host = draw(st.sampled_from([None, "", "h"]))
            d.sni = draw(st.sampled_from([None, "", "sni.example"]))
            d.ip = draw(st.sampled_from(_IPS))
        if draw(st.integers(0, 4)) == 0 and isinstance(d.meta, dict):
            d.meta["stack"] = draw(st.sampled_from([True, 0, "", "s", [1], None]))
    return drafts, draw(st.sampled_from([None, "", "peer.example"]))


def _names(entries: list[tuple[float, str, str]]) -> DnsNames:
    names = DnsNames()
    for t, name, ip in entries:
        names.add(t, name, [ip])
    names.sort()
    return names


_dns = st.lists(st.tuples(st.floats(0, 12), st.sampled_from(["a.dns", "b.dns"]),
                          st.sampled_from(_IPS[:2])), max_size=4)


def _run(path: Path, batches: list[tuple[list[Draft], str | None]],
         requests: list[list[tuple[int, int]]], shared: list[tuple[int, int, int, int]],
         ps: list[Phase], dns: list[tuple[float, str, str]], how: str, messages: bool = True,
         ) -> tuple[list[Any], list[list[str]], list[tuple[Any, ...]]] | type[BaseException]:
    """Put the batches (copies) with ``how``: "c" the C writer's put, "py" put_drafts on the
    reference writer, "mixed" put_drafts on the C writer. Each draft's request is the draft
    ``requests`` names (batch, index: an earlier one), ``shared`` makes a draft's meta another
    draft's dict. What each put queued (reprs: types show), the stamps state after each, the
    store's rows; or the error raised."""
    batches = copy.deepcopy(batches)
    flat = [d for drafts, _peer in batches for d in drafts]
    for (b, i, ob, oi) in shared:
        d, other = batches[b][0][i], batches[ob][0][oi]
        if isinstance(d.meta, dict) and isinstance(other.meta, dict):
            d.meta = other.meta
    path.parent.mkdir()
    clock, names = PhaseClock(ps, []), _names(dns)
    try:
        with store.StoreWriter(path, compiled=how != "py", rows=2) as w:
            ready: list[Message] = []
            stamps = Stamps(clock.at, clock.gap, names.name, w.message,
                            ready if messages else None, [])
            queued, states = [], []
            for (drafts, peer), reqs in zip(batches, requests, strict=True):
                for d, (b, i) in zip(drafts, reqs, strict=False):
                    if b >= 0:
                        d.request = batches[b][0][i]
                put_c = w.putter()
                if how == "c" and put_c is not None:
                    put_c(drafts, peer, stamps)
                else:
                    put_drafts(w, drafts, peer, stamps)
                queued.append([repr(m) for m in (*ready, "held", *stamps.held)])
                ready.clear()
                stamps.held.clear()
                states.append(repr((stamps.phase, stamps.lo, stamps.hi)))
            w.finish({})
    except Exception as exc:  # noqa: BLE001 - compared: both raise or neither
        return type(exc)
    assert len(flat) == sum(len(q) - 1 for q in queued) or not messages
    return queued, [states], list(store_rows(str(path)))


def _requests(data: st.DataObject, batches: list[tuple[list[Draft], str | None]],
              ) -> list[list[tuple[int, int]]]:
    """For each draft an earlier draft of its batch or of an earlier one, or none."""
    out = []
    for b, (drafts, _peer) in enumerate(batches):
        out.append([data.draw(st.sampled_from(
            [(-1, -1), *[(b, j) for j in range(i)],
             *[(e, j) for e in range(b) for j in range(len(batches[e][0]))]]))
            for i in range(len(drafts))])
    return out


def _same(tmp: Path, batches: list[tuple[list[Draft], str | None]],
          requests: list[list[tuple[int, int]]], shared: list[tuple[int, int, int, int]],
          ps: list[Phase], dns: list[tuple[float, str, str]], messages: bool = True) -> None:
    ref = _run(tmp / "py" / "a.sqlite", batches, requests, shared, ps, dns, "py", messages)
    event("raises" if isinstance(ref, type) else "writes")
    for how in ("mixed", "c"):
        got = _run(tmp / how / "a.sqlite", batches, requests, shared, ps, dns, how, messages)
        if isinstance(ref, type) or isinstance(got, type):
            assert isinstance(ref, type), (how, got)
            assert isinstance(got, type), (how, ref)
        else:
            assert got == ref, how


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_batch(), min_size=1, max_size=3), st.data(), phases, _dns, st.booleans())
@example([([_plain(host=None, sni="", ip="10.0.0.1"), _plain(host="", t=2.5)], None)], None,
         [Phase("p", 1.0, 2.0), Phase("q", 2.0, None)], [(0.0, "a.dns", "10.0.0.1")], True)
def test_put_as_the_reference(tmp_path_factory: pytest.TempPathFactory,
                              batches: list[tuple[list[Draft], str | None]],
                              data: st.DataObject | None, ps: list[Phase],
                              dns: list[tuple[float, str, str]], messages: bool) -> None:
    requests = _requests(data, batches) if data is not None else [
        [(-1, -1), (0, 0)]]
    n = [len(drafts) for drafts, _peer in batches]
    spots = [(b, i) for b in range(len(n)) for i in range(n[b])]
    shared = [(*data.draw(st.sampled_from(spots)), *data.draw(st.sampled_from(spots)))
              for _ in range(data.draw(st.integers(0, 2)))] if data is not None else []
    _same(tmp_path_factory.mktemp("w"), batches, requests, shared, ps, dns, messages)


def test_each_message_is_its_draft(tmp_path: Path) -> None:
    """The point of put: a usual draft's Message is the draft itself (one object a message,
    not a Draft and a Message), its lists tuples, its meta its own dict (a copy where
    something else holds the dict), and a response's request id its request's, the request
    a Message by then."""
    w = store.StoreWriter(tmp_path / "a.sqlite")
    w._read_back = lambda key: pytest.fail("read back")  # type: ignore[method-assign]
    held = {"reason": "OK"}
    req = _plain(meta=held)
    resp = _plain(kind=MessageKind.RESPONSE, notes=[], meta={"reason": "OK"})
    resp.request = req
    # the writer holds the last draft's values until the next one: its dict is not freed
    # and another made at its address
    meta, body, ready = id(resp.meta), resp.body, []
    put = w.putter()
    assert put is not None
    put([req, resp], None, Stamps(lambda t: "p", lambda t: (0.0, 9.0), lambda ip, t: None,
                                  w.message, ready, []))
    assert ready[0] is req
    assert ready[1] is resp
    assert ready[0].meta == held
    assert ready[0].meta is not held
    m = ready[1]
    assert type(m) is Message
    assert (m.id, m.request_id, m.phase, m.notes, m.links) == ("k2", "k1", "p", (), ())
    assert id(m.meta) == meta
    assert m.body is body
    assert m.headers == tuple(_plain().headers)
    assert type(m.headers) is tuple
    w.close()


@pytest.mark.parametrize("request_id", ["m1", "k01", "k", "k1x", "k99999999999999999999"])
def test_a_request_that_is_a_message_of_another_id(tmp_path: Path, request_id: str) -> None:
    """A request that is a Message whose id is not a key id (k<key>, as put's Messages have)
    has no key: the C writer refuses it as the reference does (AttributeError), as it does
    any request without a key."""
    req = Message(id=request_id, kind=MessageKind.REQUEST, t=1.0, direction="out", source="s")
    for i, request in enumerate((req, object())):
        for how in ("py", "c"):
            d = _plain()
            d.request = request  # type: ignore[assignment]
            (tmp_path / f"{how}{i}").mkdir()
            w = store.StoreWriter(tmp_path / f"{how}{i}" / "a.sqlite", compiled=how == "c")
            stamps = Stamps(lambda t: None, lambda t: (-math.inf, math.inf),
                            lambda ip, t: None, w.message, [], [])
            put = w.putter()
            run = functools.partial(put, [d], None, stamps) if put is not None \
                else functools.partial(put_drafts, w, [d], None, stamps)
            with pytest.raises(AttributeError):
                run()
            w.close()


def test_a_message_holds_what_it_took_and_its_class(tmp_path: Path) -> None:
    """A message made of its draft holds its own values once the writer and the batch have
    let go of theirs (the Draft's lists, freed), and the instances hold their class as
    Python counts it: a reference to Message instead of one to Draft."""
    drafts_before, messages_before = sys.getrefcount(Draft), sys.getrefcount(Message)
    drafts = [_plain(headers=[("K", "v" * 40)], notes=["n" * 30], body=b"b" * 40 + bytes([i]))
              for i in range(3)]
    assert sys.getrefcount(Draft) == drafts_before + 3
    # a value the Message keeps (the body), one it drops (the headers' list), and their
    # references: the draft's and these names' (and getrefcount's argument)
    body, headers = drafts[0].body, drafts[0].headers
    body_refs, headers_refs = sys.getrefcount(body), sys.getrefcount(headers)
    w = store.StoreWriter(tmp_path / "a.sqlite")
    ready: list[Message] = []
    put = w.putter()
    assert put is not None
    stamps = Stamps(lambda t: None, lambda t: (-math.inf, math.inf), lambda ip, t: None,
                    w.message, ready, [])
    put(drafts, None, stamps)
    put([_plain()], None, stamps)
    w.close()  # the writer (its rows' bindings, the last draft's values) lets go
    del drafts, w, put, stamps
    gc.collect()
    assert [m.headers for m in ready[:3]] == [(("K", "v" * 40),)] * 3
    assert [m.notes for m in ready[:3]] == [("n" * 30,)] * 3
    assert all(type(m) is Message for m in ready)
    assert sys.getrefcount(Draft) == drafts_before
    assert sys.getrefcount(Message) == messages_before + 4
    assert sys.getrefcount(body) == body_refs  # the Message's now
    assert sys.getrefcount(headers) == headers_refs - 1  # the draft's gone
    ready.clear()
    assert sys.getrefcount(Message) == messages_before
    assert sys.getrefcount(body) == body_refs - 1


def test_a_message_class_of_another_layout_gets_messages_of_its_own(tmp_path: Path) -> None:
    """put makes a Message of its draft only where the two classes are laid out and freed
    alike; a Message class with a finalizer (``__del__``) is not, and gets each Message
    made anew, as add_message makes them."""
    fields = [(f.name, f.type, f) for f in dataclasses.fields(Message)]
    finalized = dataclasses.make_dataclass(
        "Message", fields, frozen=True, slots=True,
        namespace={"__del__": lambda self: None})
    w = store._store.Writer(tmp_path / "a.sqlite", store._PRAGMAS + store._SCHEMA + "BEGIN;",
                            store._INSERT, store._FACTS, Draft, finalized, VALUES, KINDS,
                            Dumps())
    d, ready = _plain(), []
    w.put([d], None, Stamps(lambda t: None, lambda t: (-math.inf, math.inf),
                            lambda ip, t: None, lambda: pytest.fail("read back"), ready, []))
    assert type(ready[0]) is finalized
    assert type(d) is Draft
    assert (ready[0].id, ready[0].host, ready[0].body) == ("k1", "h", d.body)
    w.close()

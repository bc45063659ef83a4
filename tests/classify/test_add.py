"""Classifier.add: every TLS label and what each message counts toward its host's bytes; and
the C adder (``_classify.c``) against the reference (``add_reference``, ``compiled=False``):
the same hosts, sets, ids and byte counts, in the same order and of the same types, after
every message, for generated messages of every shape the classifier may meet (every kind,
no host or ip, hosts to lower and strip, Java stack records, TLS records, a meta body_len,
a wire length, fields of the wrong type). Where the reference raises, so does the adder,
with the same error."""

from __future__ import annotations

import gc
import weakref
from dataclasses import fields, replace
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.classify import destinations
from harness.classify.destinations import Classifier, _Acc
from harness.parse.message import Message, MessageKind


@pytest.mark.parametrize("compiled", [True, False])
def test_every_tls_label_and_size(compiled: bool) -> None:
    base = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                   source="native.tls", host="a.example.com", method="POST", url="/u",
                   headers=(("k", "vv"), ("é", "")), body=b"abc")
    cases = [base, replace(base, tls_version="TLSv1.2"), *(replace(base, **kw) for kw in (
                 {"protocol": "tls-ciphertext"}, {"source": "native.tcp"},
                 {"source": "native.udp"}, {"source": "java.x", "url": "http://a/"},
                 {"source": "java.x", "url": "ws://a/"}, {"source": "java.x"},
                 {"body_len_wire": 0}, {"meta": {"body_len": 2}},
                 {"meta": {"body_len": True}}, {"direction": "in"}, {"headers": ()}))]
    c = Classifier(compiled)
    for m in cases:
        c.add(m)
    (a,) = c.accs.values()
    assert a.tls == {"plaintext", "tls (version not captured)", "TLSv1.2"}
    # POST /u, two headers (4 bytes of names and values, 4 of ": " and CRLF each), body abc:
    # 21; the URLs http://a/ and ws://a/ add 7 and 5; a wire length of 0 takes 3 off, a
    # body_len of 2 one, True (an int) two; no headers 12; the incoming one counts in
    assert (a.messages, a.bytes_out, a.bytes_in) == (12, 5 * 21 + 28 + 26 + 18 + 20 + 19 + 9, 21)
    (below,) = c.below.values()  # the TLS records under a TLS hook, counted apart
    assert (below.messages, below.bytes_out, below.tls) == (1, 21, {"tls (version not captured)"})


compiled_only = pytest.mark.skipif(destinations._classify is None,
                                   reason="unreachable: setup builds it")


@compiled_only
def test_the_adder_is_in_place() -> None:
    """The comparisons below compare the C adder with the reference, not it with itself."""
    assert isinstance(Classifier().add.__self__,  # type: ignore[attr-defined]
                      destinations._classify.Adder)
    ref = Classifier(compiled=False)
    assert ref.add == ref.add_reference


@compiled_only
def test_no_cycle_through_the_adder() -> None:
    """analyze_run runs without the cyclic collector: a classifier goes with its last
    reference, and its adder, held longer, says so when it needs the reference."""
    gc.disable()
    try:
        c = Classifier()
        add, gone = c.add, weakref.ref(c)
        del c
        assert gone() is None
    finally:
        gc.enable()
    add(Message(id="m1", kind=MessageKind.DNS, t=0.0, direction="out", source="x"))
    with pytest.raises(ReferenceError):
        add(SimpleNamespace())  # type: ignore[arg-type]


_text = st.text(st.sampled_from("aZé.-:/\x00İ\U0001f600"), max_size=4)
_odd = st.none() | st.booleans() | st.integers(-3, 3) | st.just(2**70) | st.floats(-1, 1) \
    | st.binary(max_size=2) | _text
"""What a field can get that is not its type."""


def _some(draw: st.DrawFn, usual: st.SearchStrategy[Any]) -> Any:
    return draw(_odd) if draw(st.integers(0, 39)) == 0 else draw(usual)


_hosts = st.sampled_from([None, "", ".", "..", "a.example.com", "A.Example.COM.",
                          "b.example.com.", "xyZ.example", "ÄB.example", "İ.x", "1.2.3.4"])
_ips = st.sampled_from([None, "", "1.2.3.4", "::1", "10.0.0.2"])
_sources = st.sampled_from(["native.tls", "native.tcp", "native.udp", "java.okhttp3",
                            "sdk.x", "x.TLS", ".tls", "", "native.tcpx", "é.udp", "İ.tcp",
                            "\U0001f600.tls", "tcp", "İtls"])
_urls = st.none() | st.sampled_from(["", "http://a/", "ws://a/", "https://a/", "HTTP://A/",
                                     "/p?q=1", "wss://a/", "http://é/", "ws://İ/", "ws:/",
                                     "wİ://", "http:/\U0001f600"]) | _text
_labels = st.none() | st.sampled_from(["", "TLSv1.2", "TLSv1.3", "h2", "sdk-a"]) | _text
_headers = st.lists(st.tuples(_text, _text), max_size=4).map(tuple)
_odd_headers = st.lists(st.tuples(_text, _text) | st.tuples(_text, _text).map(list)
                        | st.tuples(_text, _text, _text) | st.tuples(_text, st.integers()),
                        min_size=1, max_size=3).map(tuple) \
    | st.lists(st.tuples(_text, _text), max_size=2)
_lengths = st.none() | st.integers(0, 5000) | st.sampled_from([True, False, -7, 2**62, 2**63,
                                                               -2**63, 2**70])
_meta = st.fixed_dictionaries({}, optional={
    "body_len": st.integers(0, 500) | st.sampled_from([True, False, 2**63, -2**64, 1.5, "9"]),
    "stack": st.sampled_from([True, False, 1, 0, "okhttp", "", [], ["a"]]),
    "other": _text})


@st.composite
def _messages(draw: st.DrawFn, i: int = 0) -> Any:
    kind = draw(st.sampled_from(list(MessageKind)))
    fields: dict[str, Any] = {
        "id": f"m{draw(st.integers(0, 99))}",
        "kind": kind if draw(st.integers(0, 19)) else draw(st.sampled_from([kind.value, None])),
        "t": 1.0, "direction": _some(draw, st.sampled_from(["out", "in", "OUT", "outé", "ou"])),
        "source": _some(draw, _sources), "host": _some(draw, _hosts),
        "ip": _some(draw, _ips), "port": _some(draw, st.sampled_from([None, 0, 443, 80])),
        "protocol": _some(draw, st.sampled_from([None, "tls-ciphertext", "h2", "HTTP/1.1",
                                                 "tls-ciphertexts", "tls-cipher"])),
        "tls_version": _some(draw, _labels), "cipher": _some(draw, _labels),
        "phase": _some(draw, _labels), "sdk": _some(draw, _labels),
        "method": _some(draw, st.sampled_from([None, "", "GET", "POST"])),
        "url": _some(draw, _urls),
        "headers": draw(_odd_headers) if draw(st.integers(0, 7)) == 0 else draw(_headers),
        "body": _some(draw, st.binary(max_size=8)),
        "body_len_wire": _some(draw, _lengths),
        "links": _some(draw, st.sampled_from([(), ("m1",), ("m1", "m2")])),
        "meta": _some(draw, _meta)}
    shape = draw(st.integers(0, 29))
    if shape == 0:  # not a Message: whatever has its attributes
        return SimpleNamespace(**fields)
    m = Message(**fields)
    if shape == 1:  # a field missing: an AttributeError, from both
        object.__delattr__(m, draw(st.sampled_from(["host", "meta", "headers", "body"])))
    return m


def _state(c: Classifier) -> Any:
    """Everything add leaves, with each value's type and each set's insertion-free form."""
    def acc(a: _Acc) -> Any:
        return [(type(v), sorted(map(repr, v)) if isinstance(v, set) else repr(v))
                for v in (getattr(a, f.name) for f in fields(a))]
    return ([(h, acc(a)) for h, a in c.accs.items()],
            [(h, acc(a)) for h, a in c.below.items()], repr(c.stack_ids))


def _feed(c: Classifier, messages: list[Any]) -> list[Any]:
    """The state after each message, or the error it raised."""
    out: list[Any] = []
    for m in messages:
        try:
            c.add(m)
        except Exception as e:  # noqa: BLE001 - compared with the reference's
            out.append((type(e), str(e)))
        out.append(_state(c))
    return out


@compiled_only
@settings(max_examples=200, deadline=None)
@given(st.lists(_messages(), max_size=12))
@example([Message(id="m1", kind=MessageKind.REQUEST, t=0.0, direction="out",
                  source="native.tls", host="A.b.", ip="1.1.1.1", port=1,
                  body_len_wire=2**63 - 1, headers=(("a", "b"),))])
@example([Message(id=f"m{i}", kind=MessageKind.RESPONSE, t=0.0, direction=d, source="n.tls",
                  host=h, port=p, protocol=pr) for i, (h, p, d, pr) in enumerate((
                      ("a.b.", 443, "in", "tls-ciphertexts"), ("xZ.b", 80, "outs", None)))])
@example([Message(id="m1", kind=MessageKind.REQUEST, t=0.0, direction="out", source="n.tls",
                  host="h", headers=h)  # type: ignore[arg-type]
          for h in ((("a", "b", "c"),), (["a", "b"],), (("a", 1),), [("a", "b")], (("a",),))])
@example([Message(id="m1", kind=MessageKind.WS_FRAME, t=0.0, direction="in", source="j.x",
                  host="h", url="ws://h/")])
@example([Message(id="m1", kind=MessageKind.RESPONSE, t=0.0, direction="in", source="j.x",
                  host="h", links=("m2",), meta={"stack": "okhttp"}, sdk="s"),
          Message(id="m2", kind=MessageKind.REQUEST, t=0.0, direction="in", source="j.x",
                  host="h", links=("m2",), meta={"stack": ""}, sdk="s")])
def test_the_adder_is_the_reference(messages: list[Any]) -> None:
    c, ref = Classifier(), Classifier(compiled=False)
    assert _feed(c, messages) == _feed(ref, messages)


@compiled_only
@pytest.mark.parametrize("odd", [
    {"ips": ["1.1.1.1"]}, {"messages": 1.5}, {"ids": ("m0",)}, {"bytes_in": True}])
def test_an_accumulator_of_other_types_goes_to_the_reference(odd: dict[str, Any]) -> None:
    m = Message(id="m1", kind=MessageKind.REQUEST, t=0.0, direction="in", source="n.tls",
                host="h", ip="1.1.1.1", body=b"xy")
    c, ref = Classifier(), Classifier(compiled=False)
    for x in (c, ref):
        x.accs["h"] = _Acc(**odd)
    assert _feed(c, [m, m]) == _feed(ref, [m, m])


@compiled_only
def test_a_subclass_of_acc_goes_to_the_reference() -> None:
    class Acc(_Acc):
        __slots__ = ()

    m = Message(id="m1", kind=MessageKind.DATAGRAM, t=0.0, direction="out", source="n.udp",
                host="h", body=b"xy")
    c, ref = Classifier(), Classifier(compiled=False)
    for x in (c, ref):
        x.accs["h"] = Acc()
    assert _feed(c, [m]) == _feed(ref, [m])
    assert c.accs["h"].messages == 1


_CHANGES = {
    "item taken out": lambda s, item: s.discard(item),
    "emptied": lambda s, item: s.clear(),
    "another in its place": lambda s, item: (s.clear(), s.add(f"{item}x")),
    "grown": lambda s, item: s.update(f"{item}{i}" for i in range(100)),
    "put back": lambda s, item: (s.clear(), s.update(f"{item}{i}" for i in range(20)),
                                 s.add(item)),
}


@compiled_only
@pytest.mark.parametrize("change", list(_CHANGES))
def test_a_set_changed_between_adds(change: str) -> None:
    """The adder finds a message's ip, port... in its host's sets at the table slot it found
    the last one at: whatever is done to a set between two adds (the item taken out, the set
    emptied, refilled, grown), it adds what the reference adds."""
    m = Message(id="m1", kind=MessageKind.REQUEST, t=0.0, direction="out", source="n.tls",
                host="h", ip="1.2.3.4", port=443, sdk="s", tls_version="TLSv1.3",
                cipher="c", phase="p")
    items = {"ips": m.ip, "ports": m.port, "sdks": m.sdk, "tls": m.tls_version,
             "ciphers": m.cipher, "phases": m.phase}
    c, ref = Classifier(), Classifier(compiled=False)
    for x in (c, ref):
        x.add(m)
        for name, item in items.items():
            _CHANGES[change](getattr(x.accs["h"], name), item)
        x.add(replace(m, id="m2"))
    assert _state(c) == _state(ref)
    assert all(item in getattr(c.accs["h"], name) for name, item in items.items())


@compiled_only
@pytest.mark.parametrize("counts", [
    {"messages": 2**63 - 1}, {"bytes_out": 2**63 - 3}, {"bytes_out": 2**70},
    {"messages": -2**63, "bytes_out": -2**64}, {"bytes_out": True}])
def test_counts_past_a_long_long(counts: dict[str, int]) -> None:
    """The counts are summed in C where they fit a long long, by Python's + where not."""
    m = Message(id="m1", kind=MessageKind.REQUEST, t=0.0, direction="out", source="n.tls",
                host="h", body=b"xyz")
    c, ref = Classifier(), Classifier(compiled=False)
    for x in (c, ref):
        x.accs["h"] = _Acc(**counts)  # type: ignore[arg-type]
    assert _feed(c, [m, m]) == _feed(ref, [m, m])


@compiled_only
def test_equal_items_of_other_objects() -> None:
    """Each connection's ip, port... are objects of its own: the adder finds one equal to
    what a set holds there as it is, and one that differs (by a character, in the value of
    a port, in the kind of its text) goes in."""
    def fresh(text: str) -> str:
        return "".join(list(text))  # a str object of its own

    m = Message(id="m1", kind=MessageKind.REQUEST, t=0.0, direction="out", source="n.tls",
                host="h", ip="1.2.3.4", port=8443, sdk="s", phase="p1")
    ms = [replace(m, id=f"m{i}", ip=fresh(ip), port=int(str(port)), phase=fresh(phase))
          for i, (ip, port, phase) in enumerate([
              ("1.2.3.4", 8443, "p1"), ("1.2.3.4", 8443, "p1"), ("1.2.3.5", 8444, "p2"),
              ("1.2.3.4", 2**62, "p\u00e9"), ("1.2.3.4", 2**70, "p\U0001f600"),
              ("1.2.3.5", 2**70, "p\u00e9"), ("1.2.3.4", 8443, "p1")])]
    c, ref = Classifier(), Classifier(compiled=False)
    assert _feed(c, ms) == _feed(ref, ms)
    assert c.accs["h"].ports == {8443, 8444, 2**62, 2**70}

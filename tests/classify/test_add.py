"""Classifier.add, with the TLS label and the size written in, against add_reference (the
calls to _tls_of and _size it replaced), on generated messages and the edge cases."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.classify.destinations import Classifier
from harness.parse.message import Message, MessageKind

_TEXT = st.text(alphabet="aZ:é\udcff", max_size=4)

_MESSAGES = st.builds(
    Message,
    id=st.sampled_from(["m1", "m2", "k3"]), kind=st.sampled_from(list(MessageKind)),
    t=st.just(1.0), direction=st.sampled_from(["out", "in", ""]),
    source=st.sampled_from(["native.tls", "native.tcp", "native.udp", "java.okhttp3",
                            "x.tls.y", "tcp"]),
    conn=st.none(), phase=st.sampled_from([None, "", "browse"]),
    protocol=st.sampled_from([None, "", "tls-ciphertext", "HTTP/1.1", "h2"]),
    host=st.sampled_from([None, "", ".", "A.Example.COM.", "a.example.com", "b.test"]),
    ip=st.sampled_from([None, "", "192.0.2.1", "8.8.8.8"]),
    port=st.sampled_from([None, 0, 443]),
    tls_version=st.sampled_from([None, "", "TLSv1.3"]),
    cipher=st.sampled_from([None, "", "AES"]), method=st.sampled_from([None, "", "GET"]),
    url=st.sampled_from([None, "", "http://a/", "ws://a/", "https://a/", "HTTP://a/",
                         "/x?y"]),
    headers=st.lists(st.tuples(_TEXT, _TEXT), max_size=4).map(tuple),
    body=st.binary(max_size=6), body_len_wire=st.sampled_from([None, 0, 9]),
    links=st.sampled_from([(), ("m9",)]), sdk=st.sampled_from([None, "", "sensors"]),
    meta=st.sampled_from([{}, {"stack": "okhttp3"}, {"stack": ""}, {"body_len": 5},
                          {"body_len": "5"}, {"stack": "okhttp3", "body_len": 7}]),
)


def _both(messages: list[Message]) -> tuple[Classifier, Classifier]:
    fast, ref = Classifier(), Classifier()
    for m in messages:
        fast.add(m)
        ref.add_reference(m)
    return fast, ref


@settings(deadline=None)  # the first destinations() loads the tracker database
@given(st.lists(_MESSAGES, max_size=12))
def test_add_is_add_reference(messages: list[Message]) -> None:
    fast, ref = _both(messages)
    assert (fast.accs, fast.below, fast.stack_ids) == (ref.accs, ref.below, ref.stack_ids)
    sdk_of = {"m1": "mixpanel (wire format)", "m9": "x"}
    assert fast.destinations(sdk_of=sdk_of) == ref.destinations(sdk_of=sdk_of)


def test_every_tls_label_and_size() -> None:
    base = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                   source="native.tls", host="a.example.com", method="POST", url="/u",
                   headers=(("k", "vv"), ("é", "")), body=b"abc")
    cases = [base, base.__class__(**{**_fields(base), "tls_version": "TLSv1.2"}),
             *(base.__class__(**{**_fields(base), **kw}) for kw in (
                 {"protocol": "tls-ciphertext"}, {"source": "native.tcp"},
                 {"source": "native.udp"}, {"source": "java.x", "url": "http://a/"},
                 {"source": "java.x", "url": "ws://a/"}, {"source": "java.x"},
                 {"body_len_wire": 0}, {"meta": {"body_len": 2}},
                 {"meta": {"body_len": True}}, {"direction": "in"}, {"headers": ()}))]
    fast, ref = _both(cases)
    assert fast.accs == ref.accs
    (a,) = fast.accs.values()
    assert a.tls == {"plaintext", "tls (version not captured)", "TLSv1.2"}


def _fields(m: Message) -> dict[str, object]:
    return {f: getattr(m, f) for f in m.__slots__}  # type: ignore[attr-defined]

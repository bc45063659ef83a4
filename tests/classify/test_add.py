"""Classifier.add: every TLS label and what each message counts toward its host's bytes."""

from __future__ import annotations

from dataclasses import replace

from harness.classify.destinations import Classifier
from harness.parse.message import Message, MessageKind


def test_every_tls_label_and_size() -> None:
    base = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                   source="native.tls", host="a.example.com", method="POST", url="/u",
                   headers=(("k", "vv"), ("é", "")), body=b"abc")
    cases = [base, replace(base, tls_version="TLSv1.2"), *(replace(base, **kw) for kw in (
                 {"protocol": "tls-ciphertext"}, {"source": "native.tcp"},
                 {"source": "native.udp"}, {"source": "java.x", "url": "http://a/"},
                 {"source": "java.x", "url": "ws://a/"}, {"source": "java.x"},
                 {"body_len_wire": 0}, {"meta": {"body_len": 2}},
                 {"meta": {"body_len": True}}, {"direction": "in"}, {"headers": ()}))]
    c = Classifier()
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

"""A destination's byte counts include what a request carries outside its body."""

from __future__ import annotations

from harness.classify.destinations import classify
from harness.parse.message import Message, MessageKind


def test_a_get_with_data_in_its_url_counts_its_url_and_headers() -> None:
    url = "/c/cnry1389b3351b539163incognito?q=secret"
    get = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                  source="native.tls", host="canary.lab.test", ip="127.0.0.1", port=443,
                  method="GET", url=url, headers=(("user-agent", "lab"),), body_len_wire=0)
    ok = Message(id="m2", kind=MessageKind.RESPONSE, t=2.0, direction="in",
                 source="native.tls", host="canary.lab.test", ip="127.0.0.1", port=443,
                 status=200, body=b"<html>hi</html>", body_len_wire=15)
    [dest] = classify([get, ok])
    assert dest.bytes_out == len("GET") + len(url) + len("user-agent") + len("lab") + 4
    assert dest.bytes_in == 15

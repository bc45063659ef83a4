"""A destination's byte counts include what a request carries outside its body."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.classify.destinations import _size, classify
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


@given(st.lists(st.tuples(st.text(max_size=6), st.text(max_size=12)), max_size=5),
       st.sampled_from(["GET", None]), st.sampled_from(["/a?b=c", None]),
       st.sampled_from([None, 0, 7]), st.binary(max_size=5))
def test_the_size_is_the_start_line_headers_and_body(
        headers: list[tuple[str, str]], method: str | None, url: str | None,
        wire: int | None, body: bytes) -> None:
    m = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                source="native.tls", host="h.lab.test", method=method, url=url,
                headers=tuple(headers), body=body, body_len_wire=wire)
    head = len(method or "") + len(url or "") + sum(len(k) + len(v) + 4 for k, v in headers)
    assert _size(m) == head + (len(body) if wire is None else wire)

"""A message's roots without urllib.parse (rootpairs.path_query, query_pairs, and roots.c,
which does the same in C) against urlsplit and parse_qsl, which find(compiled=False) still
calls: the same path, query and parameters for any URL, well formed or not (schemes that
are not, brackets, a non-ASCII host that NFKC changes, tabs and newlines, C0 controls in
front, escapes that are not UTF-8, surrogates from a surrogateescape decode), and the same
header steps and bytes (names to lower case beyond ASCII, values with lone surrogates)."""

from __future__ import annotations

import urllib.parse

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.rootpairs import path_query, query_pairs, root_pairs
from harness.parse.message import Message, MessageKind

# what URLs are made of, and what breaks urlsplit or changes what it does
pieces = st.sampled_from([
    "a", "Z", "0", "x-y", "+", ".", "-", ":", "/", "//", "?", "#", "&", "=", ";", "@", "[",
    "]", "[::1]", "[v1.x]", "[1.2.3.4]", "%", "%41", "%zz", "%e9", "%D0%BA", "%C3", "%2B",
    "%26", "%3D", " ", "\t", "\r", "\n", "\x00", "\x1f", "\x7f", "é", "к", "℀", "①", "ａ",
    "\udce9", "\ud800", "😀", "http", "https://", "HTTP://", "1http:", "a+b.c-d:", "host",
    "h.lab.test", ":8080", "user:pw@", "q=v", "a=1&b=2", "&&", "==",
])
urls = st.lists(pieces, max_size=14).map("".join) | st.text(max_size=40) | st.builds(
    lambda scheme, host, path, query, frag: f"{scheme}//{host}{path}{query}{frag}",
    st.sampled_from(["https:", "http:", "", "ws:", "x+y:", "1a:", " https:", "\x00http:"]),
    st.lists(pieces, max_size=4).map("".join),
    st.lists(pieces, max_size=4).map(lambda p: "/" + "".join(p)),
    st.lists(pieces, max_size=6).map(lambda p: "?" + "".join(p)) | st.just(""),
    st.sampled_from(["", "#", "#f?x=1", "#a#b"]))


def reference(url: str) -> tuple[str, str] | None:
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return None
    return parts.path, parts.query


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(urls)
@example("http://[::1")
@example("http://a]b/c?d")
@example("http://℀/x?y=1")  # NFKC turns the host into "a/c": urlsplit raises
@example("http://ｈost/x?y=1")  # NFKC changes it, but to nothing that raises
@example(" \x00https://h/p?q=1")
@example("ht\ttp://h\n/p?q\r=1")
@example("https://host.lab.test/p\tq")  # roots.c reads words of eight: in the second
@example("https://h/p\x01bcdefghijklmnop\nq")  # after a word with another C0 control
@example("https://host.lab/ab[c]/d")  # brackets after the netloc
@example("1http://h/p?q")
@example("//h/p?q#f")
@example("h/p?q")
def test_path_query_is_urlsplits(url: str) -> None:
    assert path_query(url) == reference(url)


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(pieces, max_size=14).map("".join) | st.text(max_size=40))
@example("a=1&&b&=c&d=&+=%2B+%zz&e=%e9%D0%BA;f=g")
def test_query_pairs_are_parse_qsls(query: str) -> None:
    assert query_pairs(query) == urllib.parse.parse_qsl(query, keep_blank_values=True)


names = st.sampled_from(["Host", "X-Id", ":path", "É-Ñame", "İd", "ß"]) | st.text(max_size=6)
values = st.text(max_size=8) | st.sampled_from(["\udce9", "a\ud800b", "é", "%41+"])


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
@given(urls, st.sampled_from(list(MessageKind)), st.sampled_from(["GET", None]),
       st.lists(st.tuples(names, values), max_size=3).map(tuple), st.binary(max_size=4))
@example("https://h/p?a=%e9%D0%BA%zz%4&b=%C3%28+x&&=&c", MessageKind.REQUEST, "GET",
         (("X-İD", "\udce9\ud800"),), b"")
@example("HTTP://h/?#", MessageKind.REQUEST, None, (), b"x")
@example("https://host.lab.test/path/to/it?q=1\tx", MessageKind.REQUEST, "GET", (), b"")
@example("https://h.lab.test:8080/a\x01bcdefghijk\rl?m=n", MessageKind.REQUEST, "GET", (), b"")
@example("https://h[1]x.lab.test/p?q=1", MessageKind.REQUEST, "GET", (), b"")
def test_roots_are_the_references(url: str, kind: MessageKind, method: str | None,
                                  headers: tuple[tuple[str, str], ...], body: bytes) -> None:
    m = Message(id="m1", kind=kind, t=1.0, direction="out", source="native.tls",
                method=method, host="h.lab.test", url=url or None, headers=headers, body=body)
    assert root_pairs(m) == root_pairs(m, compiled=False)


def test_the_common_urls_are_split_in_c() -> None:
    """roots.c hands back (None) only what path_query sends to urlsplit, and non-ASCII."""
    for url in ("https://h.lab.test/p/q?a=1&b=%D0%BA+x#f", "http://h:80", "/rel?x", "", "a:b"):
        assert _detect.roots(url, "http:GET h", True, (("A", "b"),), b"") is not None, url
    for url in ("http://[::1]/", " http://h/", "http://h/\tx", "https://é.test/", "/é"):
        assert _detect.roots(url, "http:GET h", True, (), b"") is None, url


def test_header_steps_and_values_found_again_by_object() -> None:
    """roots.c keeps the step and bytes made for a header's name and value by the str
    object: the same objects again, more of them than it has slots (so slots are taken
    over), values longer than it keeps, and equal strings that are other objects give what
    the Python gives each time."""
    names = [f"X-N{i}é" if i % 7 == 0 else f"X-N{i}" for i in range(300)]
    values = ["v" * (i % 9) + str(i) if i % 5 else "w" * (500 + i) for i in range(300)]
    headers = tuple(zip(names, values, strict=True))
    copies = tuple((n.encode().decode(), v.encode().decode()) for n, v in headers)
    for hs in (headers, headers[::-1], copies, headers, headers[::3] + copies[::2]):
        m = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                    source="native.tls", method="GET", host="h", url="https://h/p?a=1",
                    headers=hs, body=b"")
        got = root_pairs(m)
        assert got == root_pairs(m, compiled=False)
        assert [chain[1] for chain, _ in got[2:]] == [f"header:{n.lower()}" for n, _ in hs]

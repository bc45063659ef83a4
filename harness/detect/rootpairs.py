"""A message's roots: where the detector starts reading it (its URL, each query parameter,
each header, its body), each with the chain's first steps. roots.c makes them in C for the
URLs :func:`path_query` splits without urllib.parse; this is the rest, and the reference.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator

from harness.detect.decoders import Layer
from harness.parse.message import Message, MessageKind
from harness.text import utf8

try:  # built by setup.py with the package
    from harness.detect import _detect
except ImportError:  # pragma: no cover - a checkout that was never built
    _detect = None  # type: ignore[assignment]


def _split(url: str) -> urllib.parse.SplitResult | None:
    """A captured URL's parts; None for one urlsplit refuses ("http://[::1", an app's
    WebView.loadUrl argument can be anything)."""
    try:
        return urllib.parse.urlsplit(url)
    except ValueError:
        return None


_UNSAFE = re.compile("[\t\r\n]")
"""What urlsplit deletes anywhere in a URL (after stripping C0 controls and spaces in front)."""
_SCHEME = re.compile("[A-Za-z][A-Za-z0-9+.-]*:")
"""What urlsplit takes as a scheme: up to the first ':', an ASCII letter then scheme_chars."""


def path_query(url: str) -> tuple[str, str] | None:
    """``urlsplit(url)``'s path and query, None where it raises: the same steps, on the
    URLs a capture is full of, without its lru_cache, its named tuple, the NFKC check of a
    non-ASCII host or the check of a bracketed one (both left to :func:`_split`), or the
    C0 and tab/newline removal (the same). tests/detect/test_roots.py compares the two."""
    if url[:1] <= " " or _UNSAFE.search(url) is not None:
        parts = _split(url)
        return None if parts is None else (parts.path, parts.query)
    scheme = _SCHEME.match(url)
    rest = url[scheme.end():] if scheme is not None else url
    if rest[:2] == "//":
        end = len(rest)
        for c in "/?#":
            at = rest.find(c, 2)
            if 0 <= at < end:
                end = at
        netloc = rest[2:end]
        if "[" in netloc or "]" in netloc or not netloc.isascii():
            parts = _split(url)
            return None if parts is None else (parts.path, parts.query)
        rest = rest[end:]
    path, _, query = rest.partition("#")[0].partition("?")
    return path, query


def query_pairs(query: str) -> list[tuple[str, str]]:
    """``parse_qsl(query, keep_blank_values=True)``, the same steps, with the calls that
    would change nothing (a replace without '+', an unquote without '%') left out."""
    out: list[tuple[str, str]] = []
    for piece in query.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "+" in name:
            name = name.replace("+", " ")
        if "%" in name:
            name = urllib.parse.unquote(name)
        if "+" in value:
            value = value.replace("+", " ")
        if "%" in value:
            value = urllib.parse.unquote(value)
        out.append((name, value))
    return out


def _request_head(m: Message) -> str:
    """A request's first chain step without its URL's path."""
    return f"http:{m.method or '?'} {m.host or m.ip or '?'}"


def root_label(m: Message, path: str | None = None) -> str:
    """The chain's first step; ``path`` is the URL's path found already (a request's)."""
    if m.kind == MessageKind.REQUEST:
        if path is None:
            parts = _split(m.url) if m.url else None
            path = parts.path if parts is not None else ""
        return _request_head(m) + path
    if m.kind == MessageKind.RESPONSE:
        return f"http:response {m.status} {m.host or m.ip or '?'}"
    if m.kind == MessageKind.SDK_CALL:
        return f"sdk:{m.sdk or '?'} {m.method or ''}".rstrip()
    return f"{m.kind.value}:{m.source} {m.host or m.ip or '?'}"


def root_pairs(m: Message, compiled: bool = True) -> list[tuple[tuple[str, ...], bytes]]:
    """A message's roots as (chain, bytes): its URL, each query parameter, each header, its
    body. Tuples, not :class:`Layer` objects: the detector makes these for every message.
    ``compiled=False`` splits the URL with urllib.parse itself (the reference); the C one
    (roots.c) does the URLs :func:`path_query` splits without urlsplit, and leaves the others
    to the Python below."""
    if compiled and _detect is not None:
        request = m.kind == MessageKind.REQUEST
        got = _detect.roots(m.url or "", _request_head(m) if request else root_label(m),
                            request, m.headers, m.body)
        if got is not None:
            return got
    return _root_pairs(m, compiled)


def _root_pairs(m: Message, compiled: bool) -> list[tuple[tuple[str, ...], bytes]]:
    """:func:`root_pairs` in Python: all of it, or what roots.c leaves to it."""
    url = m.url
    if not url:
        path, query = "", ""
    elif compiled:
        path, query = path_query(url) or ("", "")
    else:
        parts = _split(url)
        path, query = (parts.path, parts.query) if parts is not None else ("", "")
    label = root_label(m, path)
    out: list[tuple[tuple[str, ...], bytes]] = []
    if url:
        out.append(((label, "url"), utf8(url)))
        if query:
            pairs = (query_pairs(query) if compiled
                     else urllib.parse.parse_qsl(query, keep_blank_values=True))
            out += [((label, f"query:{k}"), utf8(v)) for k, v in pairs]
    out += [((label, f"header:{name.lower()}"), utf8(value)) for name, value in m.headers]
    if m.body:
        out.append(((label,), m.body))
    return out


def roots(m: Message) -> Iterator[Layer]:
    for chain, data in root_pairs(m):
        yield Layer(chain, data)

"""Registrable domains (eTLD+1) from the public suffix list snapshot bundled in
``publicsuffixlist`` (never fetched), ICANN section only: a private suffix such as
``blogspot.com`` is a registrable domain, as browsers' cookie rules would not have it but as
an audit wants it (whose domain the host is).

tldextract did this before; it imports requests, urllib3 and filelock for its list updates
and builds its tries from its snapshot on first use: ~0.17 s of every ``harness analyze``,
against ~0.07 s here. Both give the same answer for every rule both snapshots hold
(tests/classify/test_destinations.py).

Those ~0.07 s were the library's parser (it encodes every rule to IDNA in Python): the state
it parses is kept in the cache directory (:mod:`harness.classify.parsedcache`) for the next
run, keyed by the list's hash and the library's version."""

from __future__ import annotations

import io
import ipaddress
from functools import lru_cache
from pathlib import Path

import publicsuffixlist

from harness.cachedir import cache_dir
from harness.classify import parsedcache

SOURCE = (f"publicsuffixlist {publicsuffixlist.__version__} bundled public suffix list"
          " (ICANN section)")

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
"""The full stops IDNA reads as label separators (ideographic, fullwidth, halfwidth)."""


CACHE_NAME = "publicsuffixlist.marshal"


@lru_cache(maxsize=1)
def _list() -> publicsuffixlist.PublicSuffixList:
    return load_list(cache_dir() / CACHE_NAME)


def load_list(cache: Path | None) -> publicsuffixlist.PublicSuffixList:
    """The bundled list as the library parses it, its parsed state read from ``cache`` when
    that holds this list's (else parsed and stored there)."""
    with open(publicsuffixlist.PSLFILE, "rb") as fh:
        text = fh.read()
    key = parsedcache.file_key(text, f"publicsuffixlist {publicsuffixlist.__version__}",
                               "only_icann accept_unknown=False")
    state = parsedcache.load(cache, key, lambda: vars(_parse(text)))
    if not isinstance(state, dict):  # pragma: no cover - a key only this module writes
        return _parse(text)
    # what unpickling the object would do, without pickle's power to run code
    psl = publicsuffixlist.PublicSuffixList.__new__(publicsuffixlist.PublicSuffixList)
    psl.__dict__.update(state)
    return psl


def _parse(text: bytes) -> publicsuffixlist.PublicSuffixList:
    # the file's lines as the library reads them from its own file; an unknown TLD
    # (``lab.test``) has no registrable domain, as tldextract had it
    return publicsuffixlist.PublicSuffixList(io.BytesIO(text), only_icann=True,
                                             accept_unknown=False)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def registrable_domain(host: str | None) -> str | None:
    """``sa.api.intl.miui.com`` → ``miui.com``; None for IPs, bare suffixes and unknown
    TLDs."""
    if not host or is_ip(host):
        return None
    name = host.lower().translate(_DOTS).rstrip(".")
    return _list().privatesuffix(name) if name else None

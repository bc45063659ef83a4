"""Registrable domains (eTLD+1) from the public suffix list snapshot bundled in
``publicsuffixlist`` (never fetched), ICANN section only: a private suffix such as
``blogspot.com`` is a registrable domain, as browsers' cookie rules would not have it but as
an audit wants it (whose domain the host is).

tldextract did this before; it imports requests, urllib3 and filelock for its list updates
and builds its tries from its snapshot on first use: ~0.17 s of every ``harness analyze``,
against ~0.07 s here. Both give the same answer for every rule both snapshots hold
(tests/classify/test_destinations.py)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import publicsuffixlist

SOURCE = (f"publicsuffixlist {publicsuffixlist.__version__} bundled public suffix list"
          " (ICANN section)")

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
"""The full stops IDNA reads as label separators (ideographic, fullwidth, halfwidth)."""


@lru_cache(maxsize=1)
def _list() -> publicsuffixlist.PublicSuffixList:
    # an unknown TLD (``lab.test``) has no registrable domain, as tldextract had it
    return publicsuffixlist.PublicSuffixList(only_icann=True, accept_unknown=False)


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

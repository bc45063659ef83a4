"""Registrable domains (eTLD+1) from the public suffix list snapshot bundled in
``tldextract`` (never fetched: ``suffix_list_urls=()``, no cache dir)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import tldextract

SOURCE = f"tldextract {tldextract.__version__} bundled public suffix list"


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def registrable_domain(host: str | None) -> str | None:
    """``sa.api.intl.miui.com`` → ``miui.com``; None for IPs and bare suffixes."""
    if not host or is_ip(host):
        return None
    ext = _extractor()(host.lower().rstrip("."))
    if not ext.domain or not ext.suffix:
        return None
    return f"{ext.domain}.{ext.suffix}"

"""Where an IP address is and which network owns it, from ``geoip2fast``'s bundled data
(GeoLite2-derived, offline). This is the hosting location of the address, not where the
domain's registrant or the operator is: reports keep those apart."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from geoip2fast import GeoIP2Fast

SOURCE = "geoip2fast bundled GeoLite2-derived country+ASN data"


@dataclass(frozen=True, slots=True)
class Location:
    """Where an address is located, and whose network it is in."""

    country: str | None
    """ISO code of where the address is located; None when unknown or private."""
    network: str | None
    """Owner of the address block (ASN name)."""
    local: bool
    """Loopback, private, link-local or reserved: the lab, never a real destination."""


def is_local(ip: str) -> bool:
    try:
        a = ipaddress.ip_address(ip.strip("[]"))
    except ValueError:
        return False
    return a.is_loopback or a.is_private or a.is_link_local or a.is_unspecified


@lru_cache(maxsize=1)
def _db() -> GeoIP2Fast:
    # imported here: the library brings urllib.request, ssl and email for its updater, and
    # a run whose addresses are all local never asks it
    from geoip2fast import GeoIP2Fast

    return GeoIP2Fast(geoip2fast_data_file="geoip2fast-asn-ipv6.dat.gz", verbose=False)


@lru_cache(maxsize=65536)
def locate(ip: str) -> Location:
    if is_local(ip):
        return Location(None, None, True)
    try:
        r = _db().lookup(ip)
    except Exception:  # noqa: BLE001 - the library raises plain exceptions on odd input
        return Location(None, None, False)
    cc = r.country_code if r.country_code and r.country_code != "--" else None
    return Location(cc, r.asn_name or None, bool(r.is_private))

"""Vendors: whose domains are first party, and a curated table of vendor telemetry
endpoints that public tracker lists do not know (facts from the 2020 Xiaomi case, see
``shared/research/xiaomi-2020.md``: Forbes 2020-04-30, Palant's Mint Browser write-ups of
2020-05-04/08, Xiaomi's blog post of 2020-05-02)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from harness.errors import InputError


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A vendor's telemetry endpoint the tracker lists do not know."""

    pattern: str
    """Host pattern (``fnmatch``: ``*`` matches any run of characters)."""
    operator: str
    """Who runs the server."""
    category: str
    service: str
    """What the endpoint is, e.g. the SDK back end it speaks for."""
    source: str


XIAOMI_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("sa.api.intl.miui.com", "Xiaomi", "analytics",
             "Sensors Analytics back end operated by Xiaomi (Sensors Analytics SDK payloads)",
             "xiaomi-2020: Forbes 2020-04-30; Xiaomi blog 2020-05-02; Palant 2020-05-04"),
    Endpoint("sa.api.*.miui.com", "Xiaomi", "analytics",
             "Sensors Analytics back end operated by Xiaomi (regional)",
             "xiaomi-2020 (by analogy with sa.api.intl.miui.com)"),
    Endpoint("data.mistat.*.xiaomi.com", "Xiaomi", "analytics",
             "MiStatistics (com.xiaomi.mistatistic.sdk) collection",
             "xiaomi-2020: Palant 2020-05-04"),
    Endpoint("tracking.miui.com", "Xiaomi", "analytics",
             "Xiaomi tracking / OneTrack collection", "xiaomi-2020: public material"),
    Endpoint("tracking.*.miui.com", "Xiaomi", "analytics",
             "Xiaomi tracking / OneTrack collection (regional)", "xiaomi-2020: public material"),
)

XIAOMI_DOMAINS = ("xiaomi.com", "miui.com", "mi.com", "xiaomi.net", "mi-img.com",
                  "xiaomi.cn", "mi-fds.com", "micloud.xiaomi.net", "mifile.cn", "mi.cn")


@dataclass(frozen=True, slots=True)
class Vendor:
    """The vendor under audit: its domains are first party, its endpoints are known."""

    name: str
    domains: tuple[str, ...]
    endpoints: tuple[Endpoint, ...] = ()

    def owns(self, registrable_domain: str | None, host: str) -> bool:
        h = host.lower().rstrip(".")
        return any(h == d or h.endswith("." + d) or registrable_domain == d
                   for d in self.domains)

    def endpoint(self, host: str) -> Endpoint | None:
        h = host.lower().rstrip(".")
        return next((e for e in self.endpoints if fnmatchcase(h, e.pattern)), None)

    @classmethod
    def from_mapping(cls, data: Mapping[str, object], path: str = "<config>") -> Vendor:
        """From configuration: ``{name: ..., domains: [...]}`` (a profile's ``vendor``)."""
        name, domains = data.get("name"), data.get("domains")
        if not isinstance(name, str) or not isinstance(domains, Sequence) or \
                isinstance(domains, str) or not all(isinstance(d, str) for d in domains):
            raise InputError("vendor needs a name and a list of domains", path=path,
                             field="vendor")
        known = XIAOMI_ENDPOINTS if name.lower() == "xiaomi" else ()
        return cls(name, tuple(str(d).lower() for d in domains), known)


XIAOMI = Vendor("Xiaomi", XIAOMI_DOMAINS, XIAOMI_ENDPOINTS)


GOOGLE = Vendor("Google", ("google.com", "googleapis.com", "gstatic.com", "gvt1.com",
                           "gvt2.com", "googleusercontent.com", "google-analytics.com",
                           "googlesyndication.com", "doubleclick.net", "youtube.com",
                           "ggpht.com", "android.com", "googlevideo.com", "app-measurement.com",
                           "crashlytics.com", "firebaseio.com", "chrome.com"))
MOZILLA = Vendor("Mozilla", ("mozilla.org", "mozilla.com", "mozilla.net", "firefox.com",
                             "mozaws.net", "mozgcp.net", "services.mozilla.com"))

VENDORS: dict[str, Vendor] = {v.name.lower(): v for v in (XIAOMI, GOOGLE, MOZILLA)}

_PACKAGE_PREFIXES: tuple[tuple[str, Vendor], ...] = (
    ("com.mi.", XIAOMI), ("com.xiaomi.", XIAOMI), ("com.miui.", XIAOMI),
    ("com.android.chrome", GOOGLE), ("com.google.", GOOGLE), ("com.chrome.", GOOGLE),
    ("org.mozilla.", MOZILLA),
)


def vendor_for(name_or_package: str) -> Vendor | None:
    """A built-in vendor by name (``xiaomi``) or by the package of one of its apps
    (``com.mi.globalbrowser.mini``). ``com.android.browser`` is ambiguous (every OEM ships
    one): give the vendor by name for it."""
    key = name_or_package.strip().lower()
    if key in VENDORS:
        return VENDORS[key]
    return next((v for prefix, v in _PACKAGE_PREFIXES if key.startswith(prefix)), None)

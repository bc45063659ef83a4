"""A destination: where messages went, and who is behind it. Keeps apart the operator of the
host (who runs the server), the SDK that built the payload, and where the address is located
(registrant country and hosting country are different facts)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Party(StrEnum):
    FIRST = "first"
    """The vendor's own domains (configured, e.g. xiaomi.com, miui.com for Xiaomi)."""
    THIRD = "third"
    LOCAL = "local"
    """Loopback or the lab (never a real destination)."""
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Destination:
    """A host the app talked to, with who it is and what went there (``destinations.json``)."""

    host: str
    """Host name (SNI, Host, :authority, or DNS answer); the IP when no name is known."""
    registrable_domain: str | None
    ips: tuple[str, ...]
    ports: tuple[int, ...]
    party: Party
    operator: str | None
    """Organisation operating the host, from the tracker database or the vendor table."""
    category: str | None
    """e.g. ``analytics``, ``advertising``, ``cdn``, ``site``."""
    sdks: tuple[str, ...]
    """SDKs seen building payloads sent here (from SDK hooks or verified wire formats)."""
    countries: tuple[str, ...]
    """Where the addresses are located (offline IP database), ISO codes."""
    networks: tuple[str, ...]
    """Network owners (ASN names) of the addresses."""
    tls_versions: tuple[str, ...]
    """Versions seen; ``plaintext`` for messages sent without TLS."""
    messages: int
    bytes_out: int
    bytes_in: int
    phases: tuple[str, ...]
    sources: tuple[str, ...] = ()
    """Where each classification fact came from (database names and versions)."""
    ciphers: tuple[str, ...] = ()
    """TLS cipher suites seen."""
    operator_country: str | None = None
    """Where the operating organisation is registered (tracker database): not where the
    addresses are (``countries``)."""
    service: str | None = None
    """What the endpoint is, from the curated vendor table (e.g. a Sensors Analytics back
    end operated by the vendor)."""
    tracker: str | None = None
    """Name of the tracker database entry that matched, if any."""
    message_ids: tuple[str, ...] = ()
    """Ids of the messages sent to or received from this destination."""

    def to_json(self) -> dict[str, object]:
        return {
            "host": self.host, "registrable_domain": self.registrable_domain,
            "ips": list(self.ips), "ports": list(self.ports), "party": self.party.value,
            "operator": self.operator, "category": self.category, "sdks": list(self.sdks),
            "countries": list(self.countries), "networks": list(self.networks),
            "tls_versions": list(self.tls_versions), "messages": self.messages,
            "bytes_out": self.bytes_out, "bytes_in": self.bytes_in, "phases": list(self.phases),
            "sources": list(self.sources), "ciphers": list(self.ciphers),
            "operator_country": self.operator_country, "service": self.service,
            "tracker": self.tracker, "message_ids": list(self.message_ids),
        }

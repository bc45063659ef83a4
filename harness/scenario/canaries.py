"""Canaries: values no one outside the run can know, planted by the journey.

Fresh for every run and every phase, so a finding says which phase leaked it. Each is a
needle of class ``browsing``; the canary page load itself is the run's positive control.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from harness.protocol import JSON

CANARY_HOST = "canary.lab.test"


@dataclass(frozen=True, slots=True)
class PhaseCanaries:
    phase: str
    token: str
    """Appears in the canary URL's path; unique to run and phase."""
    query: str
    """A search word nobody else would type."""
    download: str
    """A token in the download URL's path."""

    def url(self, site: str) -> str:
        return f"{site}/c/{self.token}"

    def download_url(self, site: str) -> str:
        return f"{site}/d/{self.download}.bin"

    def needles(self) -> list[dict[str, JSON]]:
        return [
            {"name": f"canary-url:{self.phase}", "class": "browsing", "value": self.token,
             "source": "canary", "phase": self.phase, "kind": "url"},
            {"name": f"canary-query:{self.phase}", "class": "browsing", "value": self.query,
             "source": "canary", "phase": self.phase, "kind": "query"},
            {"name": f"canary-download:{self.phase}", "class": "browsing",
             "value": self.download, "source": "canary", "phase": self.phase,
             "kind": "download"},
        ]


def make_canaries(phase: str) -> PhaseCanaries:
    tag = "".join(c for c in phase.lower() if c.isalnum())[:10] or "p"
    return PhaseCanaries(
        phase=phase,
        token=f"cnry{secrets.token_hex(8)}{tag}",
        query=f"qz{secrets.token_hex(6)}",
        download=f"dl{secrets.token_hex(8)}",
    )

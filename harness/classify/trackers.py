"""Who operates a host, from a tracker database shipped with the harness (no download).

The table ``harness/data/trackerdb.json`` is derived from the npm package
``@ghostery/trackerdb`` (its ``dist/trackerdb.json``): for each tracker domain, the
tracker's name, category and organisation (with the organisation's country). Its licence is
CC-BY-NC-SA-4.0 (non-commercial, share-alike): users who redistribute the harness or use it
commercially must respect it or replace the table (``python -m harness.classify.trackers
PATH/TO/trackerdb.json > harness/data/trackerdb.json`` regenerates it from any version).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from harness.errors import InputError


@dataclass(frozen=True, slots=True)
class TrackerMatch:
    domain: str
    """The database entry that matched (the host or one of its parent domains)."""
    tracker: str
    organisation: str | None
    organisation_country: str | None
    """Where the organisation is registered (not where its servers are)."""
    category: str | None


@dataclass(frozen=True, slots=True)
class TrackerDB:
    entries: dict[str, tuple[str, str | None, str | None, str | None]]
    """domain → (tracker, organisation, organisation country, category)."""
    source: str

    @classmethod
    def bundled(cls) -> TrackerDB:
        return _bundled()

    def lookup(self, host: str) -> TrackerMatch | None:
        """The most specific entry for ``host`` or a parent domain of it."""
        labels = host.lower().rstrip(".").split(".")
        for i in range(len(labels) - 1):
            dom = ".".join(labels[i:])
            hit = self.entries.get(dom)
            if hit is not None:
                return TrackerMatch(dom, *hit)
        return None


@lru_cache(maxsize=1)
def _bundled() -> TrackerDB:
    text = resources.files("harness").joinpath("data/trackerdb.json").read_text("utf-8")
    data = json.loads(text)
    entries = {d: (e[0], e[1], e[2], e[3]) for d, e in data["domains"].items()}
    meta = data["meta"]
    return TrackerDB(entries, f"{meta['source']} {meta['version']} ({meta['licence']})")


def derive(trackerdb_json: Path, version: str) -> dict[str, object]:
    """The compact table from the package's ``dist/trackerdb.json``."""
    try:
        db = json.loads(trackerdb_json.read_text("utf-8"))
        patterns, orgs = db["patterns"], db["organizations"]
        domains: dict[str, list[str | None]] = {}
        for dom, pid in sorted(db["domains"].items()):
            p = patterns[pid]
            org = orgs.get(p.get("organization") or "", {})
            domains[dom] = [p.get("name"), org.get("name"), org.get("country"),
                            p.get("category")]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not a trackerdb.json: {exc}", path=str(trackerdb_json)) from exc
    return {"meta": {"source": "npm @ghostery/trackerdb", "version": version,
                     "licence": "CC-BY-NC-SA-4.0",
                     "attribution": "Ghostery Tracker Database, Copyright 2017 Ghostery GmbH",
                     "derived": "domains → [tracker, organisation, organisation country,"
                                " category]"},
            "domains": domains}


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    path = Path(sys.argv[1])
    pkg = json.loads((path.parent.parent / "package.json").read_text("utf-8"))
    json.dump(derive(path, pkg["version"]), sys.stdout, separators=(",", ":"),
              ensure_ascii=False)

"""Who operates a host, from a tracker database shipped with the harness (no download).

The table ``harness/data/trackerdb.json`` is derived from the npm package
``@ghostery/trackerdb`` (its ``dist/trackerdb.json``): for each tracker domain, the
tracker's name, category and organisation (with the organisation's country). Its licence is
CC-BY-NC-SA-4.0 (non-commercial, share-alike): users who redistribute the harness or use it
commercially must respect it or replace the table (``python -m harness.classify.trackers
PATH/TO/trackerdb.json > harness/data/trackerdb.json`` regenerates it from any version).

The table as :class:`TrackerDB` holds it is kept in the cache directory
(:mod:`harness.classify.parsedcache`), keyed by the file's SHA-256: parsing its 320 KB of
JSON into an entry a domain took 32.7 M instructions of every ``harness analyze``, reading
the marshalled table back and hashing the file 18.5 M (callgrind; half of that is the hash,
which valgrind runs without the CPU's SHA instructions), ~5.5 -> ~2.4 ms.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from harness.cachedir import cache_dir
from harness.classify import parsedcache
from harness.errors import InputError

_Entry = tuple[str, str | None, str | None, str | None]
"""(tracker, organisation, organisation country, category)"""

CACHE_NAME = "trackerdb.marshal"
_FORMAT = "trackerdb entries 1"
"""The cached value's shape (entries as :class:`TrackerDB` holds them, and its source): a
new shape needs a new name here, which leaves the old files' key behind."""


@dataclass(frozen=True, slots=True)
class TrackerMatch:
    """The tracker database's entry for a host."""

    domain: str
    """The database entry that matched (the host or one of its parent domains)."""
    tracker: str
    organisation: str | None
    organisation_country: str | None
    """Where the organisation is registered (not where its servers are)."""
    category: str | None


@dataclass(frozen=True, slots=True)
class TrackerDB:
    """The tracker database: its entries by domain, and where it comes from."""

    entries: dict[str, _Entry]
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
    return load_bundled(cache_dir() / CACHE_NAME)


def load_bundled(cache: Path | None) -> TrackerDB:
    """The bundled table, read from ``cache`` when that holds this file's (else parsed and
    stored there)."""
    data = resources.files("harness").joinpath("data/trackerdb.json").read_bytes()
    key = parsedcache.file_key(data, _FORMAT)
    value = parsedcache.load(cache, key, lambda: _parse(data))
    if not isinstance(value, tuple):  # pragma: no cover - a key only this module writes
        value = _parse(data)
    entries, source = value
    return TrackerDB(entries, source)


def _parse(data: bytes) -> tuple[dict[str, _Entry], str]:
    """The table's entries and source, from the file's bytes. Equal texts and entries are one
    object each (5,103 domains share 3,453 entries, whose names repeat too), which marshal
    writes once and reads back as one: a fifth of the file and of the time to read it."""
    doc = json.loads(data.decode("utf-8"))
    same: dict[object, Any] = {}

    def one(value: Any) -> Any:
        return same.setdefault(value, value)

    entries = {d: one((one(e[0]), one(e[1]), one(e[2]), one(e[3])))
               for d, e in doc["domains"].items()}
    meta = doc["meta"]
    return entries, f"{meta['source']} {meta['version']} ({meta['licence']})"


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

"""The tracker table from the cache is the bundled file's: the same entries and source as the
file read plainly, whether parsed now or read back; the cache is read (not parsed again) when
it holds this file's, and parsed again when it holds another's."""

from __future__ import annotations

import hashlib
import json
import marshal
from importlib import resources
from pathlib import Path

import pytest

from harness.classify import trackers


def _plain() -> tuple[dict[str, tuple[str, str | None, str | None, str | None]], str]:
    """The file as the table was read before the cache: json, a tuple an entry."""
    text = resources.files("harness").joinpath("data/trackerdb.json").read_text("utf-8")
    data = json.loads(text)
    entries = {d: (e[0], e[1], e[2], e[3]) for d, e in data["domains"].items()}
    meta = data["meta"]
    return entries, f"{meta['source']} {meta['version']} ({meta['licence']})"


PLAIN = _plain()


def _as_plain(db: trackers.TrackerDB) -> None:
    entries, source = PLAIN
    assert db.source == source
    assert db.entries == entries
    assert list(db.entries) == list(entries)  # the file's order, as before
    assert all(type(v) is tuple and len(v) == 4 for v in db.entries.values())


def test_parsed_and_read_back_are_the_file(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / trackers.CACHE_NAME
    _as_plain(trackers.load_bundled(None))
    _as_plain(trackers.load_bundled(path))  # parsed, and stored
    assert path.is_file()

    def no_parse(data: bytes) -> object:
        raise AssertionError("parsed again")

    monkeypatch.setattr(trackers, "_parse", no_parse)
    read = trackers.load_bundled(path)
    _as_plain(read)
    hit = read.lookup("stats.g.doubleclick.net")
    assert hit is not None
    assert hit.organisation == "Google"


def test_another_files_cache_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / trackers.CACHE_NAME
    trackers.load_bundled(path)
    key, (entries, source) = marshal.loads(path.read_bytes())
    data = resources.files("harness").joinpath("data/trackerdb.json").read_bytes()
    assert hashlib.sha256(data).hexdigest() in key  # an edited table is parsed again
    stale = ({**entries, "lab.test": ("Lab", None, None, "lab")}, source)
    for other in (("trackerdb entries 0", *key[1:]), (key[0], "0" * 64, *key[2:])):
        path.write_bytes(marshal.dumps((other, stale)))
        _as_plain(trackers.load_bundled(path))
        assert marshal.loads(path.read_bytes()) == (key, (entries, source))
    # the right key is read as it is: which is why the key names the file and the format
    path.write_bytes(marshal.dumps((key, stale)))
    assert trackers.load_bundled(path).lookup("a.lab.test") is not None


def test_shared_entries_are_smaller_and_equal(tmp_path: Path) -> None:
    path = tmp_path / trackers.CACHE_NAME
    trackers.load_bundled(path)
    _, (entries, _source) = marshal.loads(path.read_bytes())
    plain = marshal.dumps(PLAIN[0])
    assert entries == PLAIN[0]
    assert len(marshal.dumps(entries)) < len(plain) * 0.8  # equal texts written once

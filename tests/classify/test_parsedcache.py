"""The parsed-data cache: a value stored under its key is read back, built again under any
other key or from any file that is not a stored pair, and a run never fails for the cache
(unreadable, unwritable, a value marshal cannot hold)."""

from __future__ import annotations

import marshal
from pathlib import Path

import pytest

from harness.classify import parsedcache

KEY = ("lib 1.0", "opts")


class _Builds:
    def __init__(self, value: object) -> None:
        self.value, self.calls = value, 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


def test_stored_then_read_back(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b.marshal"  # its directory made on the way
    build = _Builds({"x": frozenset({"a", "b"}), "n": 4})
    assert parsedcache.load(path, KEY, build) == build.value
    assert parsedcache.load(path, KEY, build) == build.value
    assert build.calls == 1
    assert [p.name for p in path.parent.iterdir()] == ["b.marshal"]  # no temporary left


def test_another_key_builds_again_and_replaces(tmp_path: Path) -> None:
    path = tmp_path / "c.marshal"
    parsedcache.load(path, KEY, _Builds("old"))
    build = _Builds("new")
    assert parsedcache.load(path, ("lib 1.1", "opts"), build) == "new"
    assert parsedcache.load(path, ("lib 1.1", "opts"), build) == "new"
    assert build.calls == 1
    assert parsedcache.load(path, KEY, build) == "new"  # the old one is gone
    assert build.calls == 2


@pytest.mark.parametrize("stored", [
    b"", b"garbage", marshal.dumps((KEY, "value"))[:-3], marshal.dumps(KEY),
    marshal.dumps((KEY, "value", "more")), marshal.dumps(7), marshal.dumps([KEY, "v"])[:1],
])
def test_a_file_that_is_no_stored_pair_builds_again(tmp_path: Path, stored: bytes) -> None:
    path = tmp_path / "d.marshal"
    path.write_bytes(stored)
    build = _Builds("value")
    assert parsedcache.load(path, KEY, build) == "value"
    assert build.calls == 1
    assert marshal.loads(path.read_bytes()) == (KEY, "value")  # and stored right


def test_unwritable_and_unmarshallable_build_each_time(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    under_a_file = tmp_path / "file" / "e.marshal"
    build = _Builds("v")
    assert parsedcache.load(under_a_file, KEY, build) == "v"
    assert parsedcache.load(under_a_file, KEY, build) == "v"
    assert build.calls == 2
    odd = _Builds(object())  # marshal holds data, not objects
    path = tmp_path / "f.marshal"
    assert parsedcache.load(path, KEY, odd) is odd.value
    assert not path.exists()
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]


def test_none_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    build = _Builds("v")
    assert parsedcache.load(None, KEY, build) == "v"
    assert parsedcache.load(None, KEY, build) == "v"
    assert build.calls == 2
    assert list(tmp_path.iterdir()) == []


def test_key(tmp_path: Path) -> None:
    assert parsedcache.file_key(b"abc", "v1") != parsedcache.file_key(b"abd", "v1")
    assert parsedcache.file_key(b"abc", "v1") != parsedcache.file_key(b"abc", "v2")
    assert parsedcache.file_key(b"abc", "v1") == parsedcache.file_key(b"abc", "v1")

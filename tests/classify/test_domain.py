"""The public suffix list from the cache is the library's own: the same state as the
library's default load of its bundled list, and the same answers for generated hosts, whether
parsed now or read back; the cache is read (not parsed again) when it holds this list's, and
parsed again when it holds another's."""

from __future__ import annotations

import marshal
from pathlib import Path

import publicsuffixlist
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.classify import domain


def _library() -> publicsuffixlist.PublicSuffixList:
    return publicsuffixlist.PublicSuffixList(only_icann=True, accept_unknown=False)


LIBRARY = _library()


def test_parsed_and_read_back_are_the_librarys_load(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / domain.CACHE_NAME
    assert vars(domain.load_list(None)) == vars(LIBRARY)
    assert vars(domain.load_list(path)) == vars(LIBRARY)  # parsed, and stored
    assert path.is_file()

    def no_parse(text: bytes) -> publicsuffixlist.PublicSuffixList:
        raise AssertionError("parsed again")

    monkeypatch.setattr(domain, "_parse", no_parse)
    read = domain.load_list(path)
    assert type(read) is publicsuffixlist.PublicSuffixList
    assert vars(read) == vars(LIBRARY)


def test_another_lists_cache_is_parsed_again(tmp_path: Path) -> None:
    path = tmp_path / domain.CACHE_NAME
    domain.load_list(path)
    key, state = marshal.loads(path.read_bytes())
    # a list that held one rule more, or another version's: not this list's
    stale = {**state, "_publicsuffix": state["_publicsuffix"] | {"lab.test"}}
    for other in (("publicsuffixlist 0.0", *key[1:]), (*key[:2], "0" * 64, *key[3:])):
        path.write_bytes(marshal.dumps((other, stale)))
        assert vars(domain.load_list(path)) == vars(LIBRARY)
        assert marshal.loads(path.read_bytes()) == (key, state)
    # the right key is read as it is: which is why the key names the file and the version
    path.write_bytes(marshal.dumps((key, stale)))
    assert domain.load_list(path).privatesuffix("a.lab.test") == "a.lab.test"


_RULES = sorted(LIBRARY._publicsuffix)  # type: ignore[attr-defined]
_LABEL = st.one_of(st.sampled_from(["www", "a", "b\u00fccher", "xn--bcher-kva", "city", "ck",
                                    "kobe", "jp", "uk", "co", "com", "test", "*", "!"]),
                   st.from_regex(r"[a-z0-9-]{1,8}", fullmatch=True))


@st.composite
def _hosts(draw: st.DrawFn) -> str:
    """A rule of the list (a wildcard's star and an exception's mark as labels too) under up
    to three labels, or labels alone."""
    labels = draw(st.lists(_LABEL, max_size=3))
    rule = draw(st.sampled_from(_RULES)).lstrip("!").split(".") if draw(st.booleans()) else []
    return ".".join(labels + rule) + draw(st.sampled_from(["", "."]))


@pytest.fixture(scope="module")
def read_back(tmp_path_factory: pytest.TempPathFactory) -> publicsuffixlist.PublicSuffixList:
    cache = tmp_path_factory.mktemp("psl") / domain.CACHE_NAME
    domain.load_list(cache)
    return domain.load_list(cache)


@given(_hosts())
@example("x.www.ck")
@example("a.b.city.kobe.jp")
@example("a.b.kobe.jp")
@example("")
@example("..")
def test_answers_are_the_librarys(read_back: publicsuffixlist.PublicSuffixList,
                                  host: str) -> None:
    for ask in ("privatesuffix", "publicsuffix", "is_private", "is_public"):
        assert getattr(read_back, ask)(host) == getattr(LIBRARY, ask)(host), ask

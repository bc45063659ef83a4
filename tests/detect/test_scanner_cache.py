"""The Hyperscan database kept between runs (matcher.stored_scanner, Scanner's stored
argument): a loaded database matches what the compiled one does, in the same order (and
what python-hyperscan does); a file that is missing, stale, corrupt, cut short or not
writable is compiled again without failing; two runs at once never read half a file; the
directory keeps a few files. Every test here keeps its cache in a tmp dir."""

from __future__ import annotations

import multiprocessing
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.detect import needles as bench_needles
from harness.cachedir import STALE_TMP
from harness.detect import _detect
from harness.detect.derive import Pattern, derive
from harness.detect.matcher import KEPT, Match, Matcher, cache_path, stored_scanner
from tests.detect.test_scanner import NEEDLE, data_, keyed, pattern_values, patterns


def bench_patterns(seed: int) -> list[Pattern]:
    """Patterns as the bench's ~50 needles derive them (~860)."""
    return [p for n in bench_needles(random.Random(seed)) for p in derive(n)]


def scanner(ps: list[Pattern], directory: Path | None) -> _detect.Scanner[Pattern, Match]:
    return stored_scanner([p.value for p in ps], ps, directory)


def payload(ps: list[Pattern], rng: random.Random, n: int) -> bytes:
    """Pattern values among random bytes, some cut short, so that matches overlap."""
    parts = []
    for _ in range(n):
        v = rng.choice(ps).value
        parts += [v[:rng.randrange(1, len(v) + 1)] if rng.random() < 0.2 else v,
                  rng.randbytes(rng.randrange(3))]
    return b"".join(parts)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.integers(0, 2**32), st.integers(0, 2**32))
def test_a_loaded_bench_database_matches_as_the_compiled_one(
        tmp_path_factory: pytest.TempPathFactory, seed: int, data_seed: int) -> None:
    directory = tmp_path_factory.mktemp("hsdb")
    ps, rng = bench_patterns(seed), random.Random(data_seed)
    compiled, ref = scanner(ps, directory), Matcher(ps, compiled=False)
    loaded = scanner(ps, directory)
    assert not compiled.loaded
    assert loaded.loaded
    for _ in range(5):
        data = payload(ps, rng, 40)
        want = keyed(compiled.scan(data), ps)
        assert want  # the payloads hold patterns
        assert keyed(loaded.scan(data), ps) == want == keyed(ref.scan(data), ps)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(pattern_values, min_size=1, max_size=12), st.lists(data_, min_size=1,
                                                                   max_size=4))
def test_a_loaded_database_matches_as_the_compiled_one(
        tmp_path_factory: pytest.TempPathFactory, values: list[bytes],
        datas: list[bytes]) -> None:
    directory = tmp_path_factory.mktemp("hsdb")
    ps = patterns(values)
    compiled, ref = scanner(ps, directory), Matcher(ps, compiled=False)
    loaded = scanner(ps, directory)
    assert loaded.loaded
    for data in datas:
        want = keyed(compiled.scan(data), ps)
        assert keyed(loaded.scan(data), ps) == want == keyed(ref.scan(data), ps)


def _damaged_and_compiled_again(directory: Path, ps: list[Pattern], stored: bytes) -> None:
    """A stored file of ``stored`` is not used: compiled, the same matches, stored right."""
    path = cache_path([p.value for p in ps], directory)
    path.write_bytes(stored)
    sc = scanner(ps, directory)
    assert not sc.loaded
    data = payload(ps, random.Random(7), 30)
    assert keyed(sc.scan(data), ps) == keyed(scanner(ps, None).scan(data), ps)
    assert scanner(ps, directory).loaded  # written again, whole


@pytest.mark.parametrize("at", [0.0, 0.001, 0.3, 0.5, 0.7, 0.999])
def test_a_corrupt_file_is_compiled_again(tmp_path: Path, at: float) -> None:
    ps = bench_patterns(1)
    good = scanner(ps, None).serialize()
    assert good is not None
    i = int(len(good) * at)
    _damaged_and_compiled_again(tmp_path, ps, good[:i] + bytes([good[i] ^ 0x10]) + good[i + 1:])


@pytest.mark.parametrize("keep", [0, 1, 8, 100, 0.5, -1])
def test_a_truncated_file_is_compiled_again(tmp_path: Path, keep: float) -> None:
    ps = bench_patterns(2)
    good = scanner(ps, None).serialize()
    assert good is not None
    _damaged_and_compiled_again(tmp_path, ps, good[:int(len(good) * keep) if isinstance(
        keep, float) else keep])


def test_garbage_and_another_librarys_bytes_are_compiled_again(tmp_path: Path) -> None:
    ps = patterns([b"abcd", b"bcde"])
    _damaged_and_compiled_again(tmp_path, ps, b"garbage" * 100)
    good = scanner(ps, None).serialize()
    assert good is not None
    # the header's version (bytes 4-7) of another release: Hyperscan refuses it
    _damaged_and_compiled_again(tmp_path, ps, good[:4] + b"\x00\x01\x02\x03" + good[8:])


def test_the_key_is_every_pattern_byte_and_length_in_order(tmp_path: Path) -> None:
    values = [b"ab\x00c", b"defg"]
    names = {cache_path(v, tmp_path) for v in [
        values, values[::-1], [b"ab\x00", b"cdefg"], [b"ab\x00c", b"defh"], values[:1],
        [b"ab\x00c", b"defg", b"defg"]]}
    assert len(names) == 6
    assert cache_path(values, tmp_path) == cache_path([bytes(v) for v in values], tmp_path)
    assert "hyperscan 5." in _detect.Scanner.build()


def test_a_stale_file_is_not_used_and_each_key_has_its_own(tmp_path: Path) -> None:
    old, new = patterns([b"abcd", b"bcde"]), patterns([b"abcd", b"bcdf"])
    assert not scanner(old, tmp_path).loaded
    sc = scanner(new, tmp_path)
    assert not sc.loaded
    assert keyed(sc.scan(b"abcdef"), new) == [(0, 0, 4)]  # not old's bcde
    assert scanner(old, tmp_path).loaded
    assert scanner(new, tmp_path).loaded
    assert len(list(tmp_path.iterdir())) == 2


def test_the_oldest_written_go_past_kept(tmp_path: Path) -> None:
    sets = [patterns([b"abcd", bytes([65 + i]) * 4]) for i in range(KEPT + 2)]
    for i, ps in enumerate(sets):
        scanner(ps, tmp_path)
        path = cache_path([p.value for p in ps], tmp_path)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))  # in order, whatever the clock's grain
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted(cache_path([p.value for p in ps], tmp_path).name
                          for ps in sets[-KEPT:])


def test_the_least_recently_used_go(tmp_path: Path) -> None:
    """A load marks its file used: the first set, loaded again after the others were
    written, outlives the second, which was written later but not used since."""
    sets = [patterns([b"abcd", bytes([65 + i]) * 4]) for i in range(KEPT + 1)]
    for i, ps in enumerate(sets):
        scanner(ps, tmp_path)
        path = cache_path([p.value for p in ps], tmp_path)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
        if i == KEPT - 1:
            assert scanner(sets[0], tmp_path).loaded  # used now: the newest
    names = {p.name for p in tmp_path.iterdir()}
    assert cache_path([p.value for p in sets[0]], tmp_path).name in names
    assert cache_path([p.value for p in sets[1]], tmp_path).name not in names
    assert len(names) == KEPT


def test_a_killed_runs_temporary_file_goes_once_stale(tmp_path: Path) -> None:
    """A temporary file a killed run left is removed by the next write once it is older than
    STALE_TMP; a younger one (another run writing now) is left alone."""
    ps = patterns([b"abcd"])
    name = cache_path([p.value for p in ps], tmp_path).name
    stale, fresh = tmp_path / f".{name}.dead.tmp", tmp_path / f".{name}.live.tmp"
    for left in (stale, fresh):
        left.write_bytes(b"half")
    old = os.stat(fresh).st_mtime - STALE_TMP - 60
    os.utime(stale, (old, old))
    assert not scanner(ps, tmp_path).loaded
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, fresh.name])


def test_an_unwritable_directory_compiles_each_time(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    under_a_file = tmp_path / "file" / "hyperscan"
    ps = patterns([b"abcd"])
    for _ in range(2):
        sc = scanner(ps, under_a_file)
        assert not sc.loaded
        assert keyed(sc.scan(b"xabcd"), ps) == [(0, 1, 5)]
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]


def test_a_file_that_cannot_be_replaced_compiles_each_time(tmp_path: Path) -> None:
    """The key's name taken by a directory: unreadable, and the rename onto it fails (what
    a read-only directory does to a user; root, running the tests, writes those)."""
    ps = patterns([b"abcd"])
    cache_path([b"abcd"], tmp_path).mkdir()
    for _ in range(2):
        sc = scanner(ps, tmp_path)
        assert not sc.loaded
        assert keyed(sc.scan(b"xabcd"), ps) == [(0, 1, 5)]
    assert [p.name for p in tmp_path.iterdir()] == [cache_path([b"abcd"], tmp_path).name]


def test_the_matcher_keeps_it_in_the_cache_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ps = derive(NEEDLE)
    Matcher(ps, cache=False)
    assert list(tmp_path.iterdir()) == []
    first, second = Matcher(ps), Matcher(ps)
    assert [p.parent for p in (tmp_path / "egress-harness").rglob("*")] == [
        tmp_path / "egress-harness", tmp_path / "egress-harness" / "hyperscan"]
    loaded = getattr(second.scan, "__self__", None)
    assert isinstance(loaded, _detect.Scanner)
    assert loaded.loaded
    data = b" ".join(p.value for p in ps)
    assert second.scan(data) == first.scan(data) == Matcher(ps, compiled=False).scan(data)
    Matcher([])  # no patterns: nothing to keep
    assert len(list((tmp_path / "egress-harness" / "hyperscan").iterdir())) == 1


def test_stored_bytes_are_checked(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        _detect.Scanner([b"abcd"], [1], Match, "bytes")  # type: ignore[arg-type]
    empty = _detect.Scanner([], [], Match)
    assert empty.serialize() is None
    assert not _detect.Scanner([], [], Match, b"anything").loaded
    with pytest.raises(ValueError, match="pattern 0"):  # refused as before, stored or not
        _detect.Scanner([b""], [1], Match, b"garbage")


def _writer(directory: str, seed: int, rounds: int) -> list[list[tuple[int, int, int]]]:
    """One run's Matchers over a directory others write at the same time."""
    ps = bench_patterns(seed)
    data = payload(ps, random.Random(seed), 60)
    out = []
    for _ in range(rounds):
        for p in Path(directory).glob("*.hsdb"):  # that each round writes again
            p.unlink(missing_ok=True)
        out.append(keyed(scanner(ps, Path(directory)).scan(data), ps))
        out.append(keyed(scanner(ps, Path(directory)).scan(data), ps))
    return out


def test_two_writers_at_once(tmp_path: Path) -> None:
    ps = bench_patterns(5)
    want = keyed(scanner(ps, None).scan(payload(ps, random.Random(5), 60)), ps)
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding Hyperscan state
    with ctx.Pool(3) as pool:
        runs = pool.starmap(_writer, [(str(tmp_path), 5, 6)] * 3)
    assert all(got == want for run in runs for got in run)
    assert [p.suffix for p in tmp_path.iterdir()] == [".hsdb"]  # no temporary left
    assert scanner(ps, tmp_path).loaded


def _rewriter(directory: str, rounds: int) -> None:
    ps = bench_patterns(6)
    for _ in range(rounds):
        for p in Path(directory).glob("*.hsdb"):
            p.unlink(missing_ok=True)
        scanner(ps, Path(directory))


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    """While another run writes the file again and again, a read finds it whole or not at
    all (Hyperscan would refuse half a file, but only after a read and a CRC of it)."""
    ps = bench_patterns(6)
    good = scanner(ps, None).serialize()
    path = cache_path([p.value for p in ps], tmp_path)
    proc = multiprocessing.get_context("spawn").Process(target=_rewriter,
                                                        args=(str(tmp_path), 40))
    proc.start()
    reads = 0
    try:
        while proc.is_alive():
            try:
                got = path.read_bytes()
            except FileNotFoundError:
                continue
            assert got == good
            reads += 1
    finally:
        proc.join()
    assert proc.exitcode == 0
    assert reads > 0 or path.read_bytes() == good


def test_stored_scanner_without_a_directory_stores_nothing(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert not scanner(patterns([b"abcd"]), None).loaded
    assert list(tmp_path.iterdir()) == []

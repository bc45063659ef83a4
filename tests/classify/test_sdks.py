"""sdks_of works each chain's SDK out once: the same map as _verified_sdk on every finding;
and its C path (``_classify.verified_sdks``) gives the reference's map (``compiled=False``),
the same keys in the same order, for generated findings and for every shape it leaves to the
reference (other types of findings, steps or message ids, a list subclass, a generator).
The SDKs Classifier.destinations gives each host from its ids: ``_classify.sdks_at_ids``
against the reference, alone and through destinations, on generated ids and maps."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from itertools import pairwise

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.classify import destinations
from harness.classify.destinations import Classifier, _Acc, _verified_sdk, sdks_of
from harness.detect.finding import Finding
from harness.device.base import NeedleClass

_STEPS = st.sampled_from(["http:POST h/sa", "sensors:data_list (crc ok)", "sensors:data",
                          "mixpanel:data", "base64", "gzip", "json:$.a", ""])

# steps around the C path's tests: the prefixes' neighbours, "crc ok" anywhere or cut short,
# text of every width (an ASCII prefix on a two- or four-byte str)
_EDGE_STEPS = st.one_of(_STEPS, st.sampled_from([
    "sensors:", "sensors", "sensors;x", "Sensors:x", "sensor:x", "mixpanel:", "mixpanel",
    "mixpanel;", "xsensors:crc ok", "sensors:crc ok", "sensors:crc o", "sensors:ccrc okk",
    "sensors:crc\u00a0ok", "sensors:\u00e9 (crc ok)", "sensors:\u20ac", "mixpanel:\u20ac",
    "sensors:\U0001f600 crc ok", "mixpanel:\U0001f600", "\u20acsensors:", "s", "m"]),
    st.text(max_size=12))


def _findings(found: Sequence[tuple[str, Sequence[object]]]) -> list[Finding]:
    return [Finding(f"f{i}", "imei", NeedleClass.DEVICE_ID, "h", None, mid,
                    tuple(chain), "")  # type: ignore[arg-type]
            for i, (mid, chain) in enumerate(found)]


@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]),
                          st.lists(_STEPS, max_size=4).map(tuple)), max_size=20))
def test_sdks_of_is_verified_sdk_of_each_finding(found: list[tuple[str, tuple[str, ...]]]
                                                 ) -> None:
    findings = _findings(found)
    expected = {}
    for f in findings:  # the reference: each finding's chain worked out, a later one wins
        sdk = _verified_sdk(f.chain)
        if sdk is not None:
            expected[f.message] = sdk
    for compiled in (True, False):
        assert sdks_of(findings, compiled) == expected


compiled_only = pytest.mark.skipif(destinations._classify is None,
                                   reason="unreachable: setup builds it")


def _same(findings: object) -> dict[str, str]:
    fast = sdks_of(findings, compiled=True)  # type: ignore[arg-type]
    ref = sdks_of(findings, compiled=False)  # type: ignore[arg-type]
    assert list(fast.items()) == list(ref.items())  # and in the same order
    return fast


@compiled_only
@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3", "m\u20ac"]),
                          st.lists(_EDGE_STEPS, max_size=5)), max_size=25))
@example([("m1", ["sensors:a (crc ok)", "mixpanel:b"]), ("m1", ["mixpanel:b", "sensors:a"])])
@example([("m2", ["sensors:\U0001f600 crc ok"]), ("m3", ["mixpanel:\u20ac", "x"])])
def test_the_c_path_is_the_reference(found: list[tuple[str, list[str]]]) -> None:
    findings = _findings(found)
    # the C path itself answered, not the reference behind it
    assert destinations._classify.verified_sdks(
        findings, Finding, destinations._SENSORS_CRC, destinations._SENSORS_WIRE,
        destinations._MIXPANEL) == _same(findings)


class _Str(str):
    __slots__ = ()


@dataclasses.dataclass(frozen=True, slots=True)
class _SubFinding(Finding):
    pass


@compiled_only
@pytest.mark.parametrize("odd", [
    _Str("sensors:x (crc ok)"), 3, None, b"sensors:x", ("sensors:x",)])
def test_a_step_of_another_type_is_the_references(odd: object) -> None:
    findings = _findings([("m1", ["mixpanel:a"]), ("m2", ["sensors:b", odd]),
                          ("m3", [odd, "mixpanel:c"])])
    assert destinations._classify.verified_sdks(
        findings, Finding, destinations._SENSORS_CRC, destinations._SENSORS_WIRE,
        destinations._MIXPANEL) is None
    assert _same(findings) == {"m1": "mixpanel (wire format)",
                               "m2": "sensors-analytics (crc verified)"
                               if isinstance(odd, _Str) else "sensors-analytics (wire format)",
                               "m3": "mixpanel (wire format)"}


@compiled_only
def test_other_findings_and_lists_are_the_references() -> None:
    plain = _findings([("m1", ["sensors:a (crc ok)"]), ("m2", ["mixpanel:b"])])
    expected = {"m1": "sensors-analytics (crc verified)", "m2": "mixpanel (wire format)"}
    sub = _SubFinding(*(getattr(plain[1], f.name) for f in dataclasses.fields(Finding)))
    cases: list[object] = [
        [plain[0], sub],  # a subclass of Finding
        [plain[0], dataclasses.replace(plain[1], message=_Str("m2"))],  # a str subclass id
        type("L", (list,), {})(plain),  # a list subclass
        tuple(plain),
    ]
    for findings in cases:
        assert _same(findings) == expected
    assert sdks_of(iter(plain)) == expected  # an iterator, read once
    # a chain of another type: the reference's error (a list is no key)
    for compiled in (True, False):
        with pytest.raises(TypeError, match="unhashable"):
            sdks_of([plain[0], dataclasses.replace(plain[1], chain=["mixpanel:b"])],
                    compiled)
    # a finding whose slots were never set: the reference's error too
    for compiled in (True, False):
        with pytest.raises(AttributeError):
            sdks_of([plain[0], Finding.__new__(Finding)], compiled)
    # an id of another type where no SDK is named is no SDK's either way
    assert _same([plain[0], dataclasses.replace(plain[1], message=7, chain=())]) == \
        {"m1": "sensors-analytics (crc verified)"}
    assert _same([]) == {}


# store ids of the form numbering.c writes (a run's dense numbers, and far apart ones, whose
# slots in the C path's table meet), and the ids around it that no number reads as one
_STORE_IDS = st.integers(0, 300).map(lambda n: f"m{n}") | st.sampled_from(
    [f"m{'9' * 18}", f"m1{'0' * 17}", "m0", "m7"]) \
    | st.integers(0, 10**18 - 1).map(lambda n: f"m{n}")
_ODD_IDS = st.sampled_from(["m", "m00", "m01", "m-1", "M1", "m1 ", "k1", "1", "", "m\u0661",
                            "m\u20ac", f"m{'9' * 19}", "m1\x00", "\u20acm1"])
_KEYS = _STORE_IDS | _ODD_IDS
_SDKS = st.sampled_from([destinations._SENSORS_CRC, destinations._MIXPANEL, "s", "\u20ac"])


def _reference(lists: list[list[str]], sdk_of: dict[str, str]) -> list[set[str]]:
    return [set(map(sdk_of.__getitem__, sdk_of.keys() & ids)) for ids in lists]


@compiled_only
@settings(max_examples=300)
@given(st.lists(st.lists(_STORE_IDS, max_size=30), max_size=5),
       st.dictionaries(_KEYS, _SDKS, max_size=120))
@example([["m1", "m2", "m1"], ["m3"]], {"m1": "a", "m01": "b", "m3": "c", "m": "d"})
@example([[f"m{n}" for n in range(0, 200, 3)]], {f"m{n}": str(n % 7) for n in range(150)})
@example([["m0", f"m{'9' * 18}"]], {"m0": "a", f"m{'9' * 18}": "b", f"m0{'9' * 17}": "c"})
def test_sdks_at_ids_is_the_reference(lists: list[list[str]], sdk_of: dict[str, str]) -> None:
    fast = destinations._classify.sdks_at_ids(lists, sdk_of)
    assert fast is not None  # store ids and a dict of strs: the C path answers
    assert [set(f) for f in fast] == _reference(lists, sdk_of)
    # a value once for a run of the same (each list is a set's update)
    assert all(a is not b for f in fast for a, b in pairwise(f))


@compiled_only
@given(st.lists(st.lists(_STORE_IDS | _ODD_IDS, max_size=8), max_size=3),
       st.dictionaries(_KEYS, _SDKS, max_size=8), _ODD_IDS)
def test_an_id_no_number_reads_is_the_references(lists: list[list[str]],
                                                  sdk_of: dict[str, str], odd: str) -> None:
    lists.append([odd])
    assert destinations._classify.sdks_at_ids(lists, sdk_of) is None
    c, ref = Classifier(), Classifier(compiled=False)
    got = [list(map(set, x._sdks_at_ids([_Acc(ids=ids) for ids in lists], sdk_of)))
           for x in (c, ref)]
    assert got[0] == got[1] == _reference(lists, sdk_of)


class _Dict(dict[str, str]):
    pass


@compiled_only
@pytest.mark.parametrize("sdk_of", [
    {"m1": "a", 1: "b"}, {"m1": "a", _Str("m2"): "b"}, {"m1": "a", "m2": 2},
    {"m1": "a", "m2": _Str("b")}, {"m1": "a", ("m2",): "b"}, _Dict(m1="a", m2="b")])
def test_other_maps_are_the_references(sdk_of: dict[str, str]) -> None:
    lists = [["m1", "m2"], ["m2", "m3"]]
    assert destinations._classify.sdks_at_ids(lists, sdk_of) is None
    hosts = [_Acc(ids=ids) for ids in lists]
    fast = list(map(set, Classifier()._sdks_at_ids(hosts, sdk_of)))
    assert fast == list(map(set, Classifier(compiled=False)._sdks_at_ids(hosts, sdk_of)))
    assert fast[0] == {sdk_of[k] for k in sdk_of if k in ("m1", "m2")}


@compiled_only
def test_other_lists_are_the_references() -> None:
    sdk_of = {"m1": "a", "m2": "b"}
    for lists in ([("m1",)], [type("L", (list,), {})(["m1"])], [["m1", _Str("m2")]],
                  [["m1", 2]], [["m2", None]]):
        assert destinations._classify.sdks_at_ids(lists, sdk_of) is None  # type: ignore[arg-type]
    # an id that is no key's: the reference's error (a list is no key)
    for compiled in (True, False):
        c = Classifier(compiled)
        c.accs["h"] = _Acc(ids=["m1", ["m2"]])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="unhashable"):
            c.destinations(sdk_of=sdk_of)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a.example", "b.example", "lab.test"]),
                          st.integers(1, 60), st.booleans()), max_size=40),
       st.dictionaries(_KEYS, _SDKS, max_size=30))
def test_destinations_give_each_host_the_references_sdks(
        sent: list[tuple[str, int, bool]], sdk_of: dict[str, str]) -> None:
    out = []
    for compiled in (True, False):
        c = Classifier(compiled)
        for host, n, below in sent:  # what add leaves, ids renumbered as analyze has them
            group = c.below if below else c.accs
            group.setdefault(host, _Acc()).ids.append(f"m{n}")
        c.stack_ids = [("c.example", "m3"), ("a.example", "m5")]
        out.append(c.destinations(sdk_of=sdk_of))
    assert out[0] == out[1]

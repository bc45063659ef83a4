"""sdks_of works each chain's SDK out once: the same map as _verified_sdk on every finding;
and its C path (``_classify.verified_sdks``) gives the reference's map (``compiled=False``),
the same keys in the same order, for generated findings and for every shape it leaves to the
reference (other types of findings, steps or message ids, a list subclass, a generator)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from harness.classify import destinations
from harness.classify.destinations import _verified_sdk, sdks_of
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

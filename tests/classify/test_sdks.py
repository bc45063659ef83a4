"""sdks_of works each chain's SDK out once: the same map as _verified_sdk on every finding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.classify.destinations import _verified_sdk, sdks_of
from harness.detect.finding import Finding
from harness.device.base import NeedleClass

_STEPS = st.sampled_from(["http:POST h/sa", "sensors:data_list (crc ok)", "sensors:data",
                          "mixpanel:data", "base64", "gzip", "json:$.a", ""])


@given(st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]),
                          st.lists(_STEPS, max_size=4).map(tuple)), max_size=20))
def test_sdks_of_is_verified_sdk_of_each_finding(found: list[tuple[str, tuple[str, ...]]]
                                                 ) -> None:
    findings = [Finding(f"f{i}", "imei", NeedleClass.DEVICE_ID, "h", None, mid, chain, "")
                for i, (mid, chain) in enumerate(found)]
    expected = {}
    for f in findings:  # the reference: each finding's chain worked out, a later one wins
        sdk = _verified_sdk(f.chain)
        if sdk is not None:
            expected[f.message] = sdk
    assert sdks_of(findings) == expected

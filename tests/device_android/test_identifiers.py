"""Identifier reading per Android release, against fake phones and real Parcel transcripts."""

from __future__ import annotations

import pytest

from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_ids import IdentifierReader, luhn_ok, parse_parcel
from harness.device.base import Identifier, NeedleClass
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone
from harness.testing.transcripts import parcel_string, transcript


def by_name(ids: list[Identifier]) -> dict[str, Identifier]:
    return {i.name: i for i in ids}


def test_parses_real_parcel_transcripts() -> None:
    assert parse_parcel(transcript("iphonesubinfo_imei_parcel.txt")).value == "860955027785041"
    denied = parse_parcel(transcript("iphonesubinfo_denied_parcel.txt"))
    assert denied.exception == -20
    assert denied.value is None
    assert parse_parcel(transcript("iphonesubinfo_null_parcel.txt")).value is None
    assert luhn_ok("860955027785041")
    with pytest.raises(ValueError, match="not a Parcel"):
        parse_parcel("Service iphonesubinfo does not exist\n")


@pytest.mark.parametrize("value", ["860955027785041", "+919812345678", "", "a", "abc"])
def test_fake_formats_parcels_as_service_call_prints_them(value: str) -> None:
    assert parse_parcel(parcel_string(value)).value == value


def test_fake_parcel_matches_the_real_transcript_byte_for_byte() -> None:
    assert parcel_string("860955027785041") == transcript("iphonesubinfo_imei_parcel.txt")


def test_rooted_redmi_note_8_android_10(ginkgo_session: AdbSession, ginkgo: FakePhone) -> None:
    ids = by_name(IdentifierReader(ginkgo_session).read_all())
    assert ids["android_id"].value == fp.ANDROID_ID
    assert ids["imei"].value == fp.IMEI
    assert ids["imei"].source == "su: su -c 'service call iphonesubinfo 1 s16 com.android.shell'"
    assert ids["imsi"].value == fp.IMSI
    assert ids["phone_number"].value == fp.LINE1
    assert ids["phone_number"].cls is NeedleClass.USER
    assert ids["serial"].value == "a1b2c3d4"
    assert ids["wifi_mac"].value == fp.WIFI_MAC
    assert ids["wifi_mac"].source.startswith("root: ")
    assert ids["bluetooth_mac"].value == "9c:2e:a1:4f:08:73"
    assert ids["advertising_id"].value == "38400000-8cf0-11bd-b23e-10b96e40000d"
    assert ids["mi_account_id"].value == fp.MI_ACCOUNT_ID
    assert ids["mi_account_id"].cls is NeedleClass.ACCOUNT_ID
    assert ids["account:com.google"].value == "lab.tester.2020@gmail.com"
    assert "su -c 'service call iphonesubinfo 7 s16 com.android.shell'" in ginkgo.commands


def test_unrooted_pixel_android_14_records_what_it_cannot_read(
        pixel_session: AdbSession, pixel: FakePhone) -> None:
    ids = by_name(IdentifierReader(pixel_session).read_all())
    assert ids["android_id"].value == "f3c2a1b0d9e8c7b6"
    for name in ("imei", "imsi", "phone_number"):
        assert ids[name].value is None
        assert "needs root on Android 10+" in str(ids[name].unavailable)
    assert ids["advertising_id"].value is None
    assert ids["mi_account_id"].unavailable == "no com.xiaomi account signed in"
    assert not any(c.startswith("service call") for c in pixel.commands)


def test_android_11_codes_through_root_adbd(remote_adb: FakeAdbServer, arrow: FakePhone) -> None:
    session = AdbSession(AdbEndpoint("127.0.0.1", remote_adb.port), arrow.serial)
    session.adb_root()
    ids = by_name(IdentifierReader(session).subinfo())
    assert ids["imei"].value == "353627072090387"
    assert ids["imei"].source == "service call iphonesubinfo 1 s16 com.android.shell"
    assert ids["imsi"].unavailable == "no value (no SIM?)"
    assert "service call iphonesubinfo 8 s16 com.android.shell" in arrow.commands


def test_a_value_that_does_not_fit_is_refused_not_guessed(ginkgo_session: AdbSession,
                                                          ginkgo: FakePhone) -> None:
    ginkgo.subinfo[1] = fp.IMSI  # as if this build's code 1 were getSubscriberId
    imei = by_name(IdentifierReader(ginkgo_session).subinfo())["imei"]
    assert imei.value is None
    assert "not a imei" in str(imei.unavailable)


def test_denied_parcel_is_recorded_as_refused(ginkgo_session: AdbSession,
                                              ginkgo: FakePhone) -> None:
    ginkgo.su = False  # shell user on Android 10 without root: nothing is asked
    ids = by_name(IdentifierReader(ginkgo_session).read_all())
    assert ids["imei"].value is None
    assert ids["wifi_mac"].value is None
    assert "Permission denied" in str(ids["wifi_mac"].unavailable)


def test_android_4_4_without_shell_v2() -> None:
    box = fp.kitkat_box()
    with FakeAdbServer(box) as server:
        session = AdbSession(AdbEndpoint("127.0.0.1", server.port), box.serial)
        ids = by_name(IdentifierReader(session).read_all())
        assert ids["imei"].value == fp.IMEI
        assert ids["imei"].source == "service call iphonesubinfo 1"
        assert ids["imsi"].unavailable == "no value (no SIM?)"
        assert ids["android_id"].value == "4a54d21dbeaf07a6"
        # plain `shell:` with adbutils' exit-code trailer, answered like mksh
        assert "service call iphonesubinfo 1; echo X4EXIT:$?" in box.commands
        assert not session.shell("false-command").ok
        assert session.shell("id -u").stdout == "2000\n"
    assert f"host-serial:{box.serial}:features" in server.wire.requests


def test_a_cdma_phone_answers_with_its_meid(ginkgo_session: AdbSession, ginkgo: FakePhone) -> None:
    ginkgo.subinfo[1] = "a0000031234567"
    ids = by_name(IdentifierReader(ginkgo_session).subinfo())
    assert "imei" not in ids
    assert ids["meid"].value == "A0000031234567"
    assert ids["meid"].cls is NeedleClass.DEVICE_ID
    ginkgo.subinfo[1] = "35362707209038"  # all digits: an IMEI without its check digit
    ids = by_name(IdentifierReader(ginkgo_session).subinfo())
    assert ids["imei"].value == "35362707209038"
    assert "meid" not in ids

"""Fake adb servers with fake phones (from real-device transcripts), one local, one "remote"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakePhone
from harness.testing.fake_phones import ginkgo_arrow11, ginkgo_miui12, pixel6_android14


@pytest.fixture
def ginkgo() -> FakePhone:
    return ginkgo_miui12()


@pytest.fixture
def pixel() -> FakePhone:
    return pixel6_android14()


@pytest.fixture
def arrow() -> FakePhone:
    return ginkgo_arrow11()


@pytest.fixture
def adb(ginkgo: FakePhone, pixel: FakePhone) -> Iterator[FakeAdbServer]:
    with FakeAdbServer(ginkgo, pixel) as server:
        yield server


@pytest.fixture
def remote_adb(arrow: FakePhone) -> Iterator[FakeAdbServer]:
    with FakeAdbServer(arrow) as server:
        yield server


@pytest.fixture
def ginkgo_session(adb: FakeAdbServer, ginkgo: FakePhone) -> AdbSession:
    return AdbSession(AdbEndpoint("127.0.0.1", adb.port), ginkgo.serial)


@pytest.fixture
def pixel_session(adb: FakeAdbServer, pixel: FakePhone) -> AdbSession:
    return AdbSession(AdbEndpoint("127.0.0.1", adb.port), pixel.serial)

"""The pytest plugin of egress-harness (entry point ``egress_harness``).

For our own suite and for users' regression suites: ``--device SERIAL`` selects a real
Android device; tests marked ``device`` are skipped without it.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("egress-harness")
    group.addoption("--device", action="store", default=None, metavar="SERIAL",
                    help="run device tests against this Android serial (adb)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--device"):
        return
    skip = pytest.mark.skip(reason="needs --device SERIAL (a real Android device)")
    for item in items:
        if "device" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def device_serial(request: pytest.FixtureRequest) -> str:
    serial = request.config.getoption("--device")
    if not serial:
        pytest.skip("needs --device SERIAL")
    return str(serial)

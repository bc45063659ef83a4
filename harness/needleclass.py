"""The classes of values the harness looks for (DESIGN.md: needles.json).

A module of its own: the detector files needles and findings under them, and the devices
report identifiers with them. They lived in ``harness.device.base`` (re-exported there),
whose device Protocol and dataclasses every ``harness analyze`` then built for nothing:
~21 M instructions of its start (callgrind)."""

from __future__ import annotations

from enum import StrEnum


class NeedleClass(StrEnum):
    """Classes of values we look for (DESIGN.md: needles.json)."""

    DEVICE_ID = "device-id"
    ACCOUNT_ID = "account-id"
    NETWORK_ID = "network-id"
    BROWSING = "browsing"
    QUASI_ID = "quasi-id"
    USER = "user"

"""The identifiers an Android phone gives: the needles a capture is searched for.

Each :class:`~harness.device.base.Identifier` says where it was read (the command), or why it
could not be (``unavailable``); nothing is guessed. IMEI, IMSI and the phone number come from
``service call iphonesubinfo CODE``, whose transaction codes follow the declaration order of
``IPhoneSubInfo.aidl`` and so move between Android releases (:data:`SUBINFO_CODES`). Because a
wrong code returns some other string, every answer is validated (IMEI: 14-16 digits and, for 15,
the Luhn check; IMSI: 6-15 digits; phone number: digits and ``+``) and refused when it does not fit.
Since Android 10 only privileged callers get these values, so the call runs as root there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from harness.device.android_adb import AdbSession, RootMode
from harness.device.base import Identifier, NeedleClass
from harness.errors import DeviceError
from harness.text import is_digits

SHELL_PACKAGE = "com.android.shell"

SUBINFO_CODES: tuple[tuple[int, int, dict[str, int]], ...] = (
    # (first SDK, last SDK, {value: transaction code})
    (1, 20, {"imei": 1, "imsi": 3, "phone_number": 6}),      # 4.4: getDeviceId, getSubscriberId
    (21, 21, {"imei": 1, "imsi": 6, "phone_number": 12}),    # 5.0 adds ...UsingSubId variants
    (22, 29, {"imei": 1, "imsi": 7, "phone_number": 13}),    # 5.1-10: (String callingPackage)
    (30, 99, {"imei": 1, "imsi": 8, "phone_number": 16}),    # 11+: ...WithFeature variants
)

MEID = re.compile(r"(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{14}")
"""A CDMA Mobile Equipment Identifier in hex (at least one letter, else it may be an IMEI)."""

HIDDEN_MAC = "02:00:00:00:00:00"
"""What Android answers instead of the real MAC to callers not allowed to see it."""


@dataclass(frozen=True, slots=True)
class ParcelReply:
    """A decoded `service call` reply that carries one String."""

    exception: int
    value: str | None


def parse_parcel(text: str) -> ParcelReply:
    """Decode `service call` output: 32-bit words, exception code, length, UTF-16 units."""
    body = text.split("Result: Parcel(", 1)
    if len(body) != 2:
        raise ValueError(f"not a Parcel reply: {text.strip()[:80]!r}")
    words: list[int] = []
    for line in body[1].splitlines():
        line = re.sub(r"^\s*0x[0-9a-fA-F]+:", "", line)
        line = line.split("'", 1)[0]
        words += [int(w, 16) for w in re.findall(r"\b[0-9a-fA-F]{8}\b", line)]
    if len(words) < 2:
        raise ValueError("Parcel reply too short")
    exception = words[0] - (1 << 32) if words[0] & 0x80000000 else words[0]
    if exception != 0:
        return ParcelReply(exception, None)
    length = words[1]
    if length == 0xFFFFFFFF:
        return ParcelReply(0, None)
    units: list[int] = []
    for w in words[2:]:
        units += [w & 0xFFFF, w >> 16]
    if length > len(units):
        raise ValueError(f"Parcel string of {length} chars but {len(units)} units")
    return ParcelReply(0, "".join(chr(u) for u in units[:length]))


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


VALID: dict[str, Callable[[str], bool]] = {
    "imei": lambda v: is_digits(v) and 14 <= len(v) <= 16 and (len(v) != 15 or luhn_ok(v)),
    "imsi": lambda v: is_digits(v) and 6 <= len(v) <= 15,
    "phone_number": lambda v: re.fullmatch(r"\+?[0-9]{3,20}", v) is not None,
}


class IdentifierReader:
    """Reads every identifier of one device; never raises for one that cannot be read."""

    def __init__(self, session: AdbSession) -> None:
        self.session = session
        raw = session.getprop("ro.build.version.sdk").strip()
        self.sdk_text = raw  # as the device gave it; `sdk` is 0 when it is not a number
        self.sdk = int(raw) if is_digits(raw) and len(raw) <= 4 else 0

    def read_all(self) -> list[Identifier]:
        ids = [self.android_id(), *self.subinfo(), self.serial(), self.wifi_mac(),
               self.bluetooth_mac(), self.advertising_id()]
        ids += self.accounts()
        return ids

    def _root(self) -> bool:
        return self.session.root_mode is not RootMode.NONE

    def android_id(self) -> Identifier:
        cmd = "settings get secure android_id"
        value = self.session.shell(cmd).stdout.strip()
        if re.fullmatch(r"[0-9a-fA-F]{8,16}", value):
            return Identifier("android_id", NeedleClass.DEVICE_ID, value.lower(), cmd)
        return Identifier("android_id", NeedleClass.DEVICE_ID, None, cmd,
                          unavailable=f"unexpected answer {value!r}")

    def subinfo(self) -> list[Identifier]:
        cls = {"imei": NeedleClass.DEVICE_ID, "imsi": NeedleClass.DEVICE_ID,
               "phone_number": NeedleClass.USER}
        codes = next((c for lo, hi, c in SUBINFO_CODES if lo <= self.sdk <= hi), None)
        if codes is None:
            why = (f"no iphonesubinfo code table for SDK {self.sdk_text!r} "
                   f"(known: {SUBINFO_CODES[0][0]}-{SUBINFO_CODES[-1][1]})")
            return [Identifier(name, cls[name], None, "service call iphonesubinfo",
                               unavailable=why) for name in ("imei", "imsi", "phone_number")]
        out = []
        for name, code in codes.items():
            out.append(self._subinfo_value(name, code, cls[name]))
        return out

    def _subinfo_value(self, name: str, code: int, cls: NeedleClass) -> Identifier:
        argv = ["service", "call", "iphonesubinfo", str(code)]
        if self.sdk >= 22:
            argv += ["s16", SHELL_PACKAGE]
        # Android 10 made these privileged: the shell user gets an exception, root does not.
        root = self.sdk >= 29 and self._root()
        if self.sdk >= 29 and not root:
            return Identifier(name, cls, None, " ".join(argv),
                              unavailable="needs root on Android 10+ "
                                          "(READ_PRIVILEGED_PHONE_STATE)")
        res = self.session.shell(argv, root=root)
        source = ("su: " if root and self.session.root_mode is RootMode.SU else "") + res.command
        try:
            reply = parse_parcel(res.stdout)
        except ValueError as exc:
            if name == "imei" and self.sdk <= 20:
                return self._imei_kitkat()
            return Identifier(name, cls, None, source, unavailable=f"unreadable reply: {exc}")
        if reply.exception:
            return Identifier(name, cls, None, source,
                              unavailable=f"refused (Parcel exception {reply.exception})")
        if not reply.value:
            return Identifier(name, cls, None, source, unavailable="no value (no SIM?)")
        if name == "imei" and MEID.fullmatch(reply.value):
            # CDMA phones answer getDeviceId with the MEID (14 hex digits), not an IMEI.
            return Identifier("meid", cls, reply.value.upper(), source)
        if not VALID[name](reply.value):
            return Identifier(name, cls, None, source,
                              unavailable=f"transaction {code} answered {reply.value!r}, not "
                                          f"a {name}: the code table may not fit this build")
        return Identifier(name, cls, reply.value, source)

    def _imei_kitkat(self) -> Identifier:
        res = self.session.shell("dumpsys iphonesubinfo")
        m = re.search(r"Device ID = (\d{14,16})", res.stdout)
        return Identifier("imei", NeedleClass.DEVICE_ID, m.group(1) if m else None, res.command,
                          unavailable=None if m else "no Device ID line")

    def serial(self) -> Identifier:
        for prop in ("ro.serialno", "ro.boot.serialno"):
            value = self.session.getprop(prop)
            if value and value != "unknown":
                return Identifier("serial", NeedleClass.DEVICE_ID, value, f"getprop {prop}")
        return Identifier("serial", NeedleClass.DEVICE_ID, None, "getprop ro.serialno",
                          unavailable="empty (Android 8+ hides it from the shell on some builds)")

    def wifi_mac(self) -> Identifier:
        path = "/sys/class/net/wlan0/address"
        res = self.session.shell(["cat", path])
        source = res.command
        if not res.ok and self._root():
            res = self.session.shell(["cat", path], root=True)
            source = "root: " + res.command
        value = res.stdout.strip().lower()
        if res.ok and re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", value) and value != HIDDEN_MAC:
            return Identifier("wifi_mac", NeedleClass.NETWORK_ID, value, source)
        why = res.stderr.strip() or (f"hidden ({HIDDEN_MAC})" if value == HIDDEN_MAC else value)
        return Identifier("wifi_mac", NeedleClass.NETWORK_ID, None, source,
                          unavailable=why or "no wlan0")

    def bluetooth_mac(self) -> Identifier:
        cmd = "settings get secure bluetooth_address"
        value = self.session.shell(cmd).stdout.strip().lower()
        if re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", value):
            return Identifier("bluetooth_mac", NeedleClass.NETWORK_ID, value, cmd)
        if not self._root():
            return Identifier("bluetooth_mac", NeedleClass.NETWORK_ID, None, cmd,
                              unavailable="settings hide it (Android 8+); the root fallback "
                                          "needs root")
        path = "/data/misc/bluedroid/bt_config.conf"
        res = self.session.shell(["cat", path], root=True)
        m = re.search(r"^\[Adapter\][^\[]*?^Address = ([0-9a-fA-F:]{17})", res.stdout, re.M | re.S)
        return Identifier("bluetooth_mac", NeedleClass.NETWORK_ID,
                          m.group(1).lower() if m else None, "root: cat " + path,
                          unavailable=None if m else "no [Adapter] Address in " + path)

    def advertising_id(self) -> Identifier:
        path = "/data/data/com.google.android.gms/shared_prefs/adid_settings.xml"
        if not self._root():
            return Identifier("advertising_id", NeedleClass.DEVICE_ID, None, "cat " + path,
                              unavailable="Google Play services keeps it in app data: needs root")
        res = self.session.shell(["cat", path], root=True)
        m = re.search(r'<string name="adid_key">([0-9a-fA-F-]{36})</string>', res.stdout)
        return Identifier("advertising_id", NeedleClass.DEVICE_ID,
                          m.group(1).lower() if m else None, "root: cat " + path,
                          unavailable=None if m else (res.stderr.strip()
                                                      or "no adid_key (no Play services?)"))

    def accounts(self) -> list[Identifier]:
        """Every signed-in account name, and the Mi account id (type ``com.xiaomi``)."""
        cmd = "dumpsys account"
        try:
            text = self.session.shell(cmd, check=True).stdout
        except DeviceError as exc:
            return [Identifier("mi_account_id", NeedleClass.ACCOUNT_ID, None, cmd,
                               unavailable=str(exc))]
        found = re.findall(r"Account \{name=(.+?), type=([\w.]+)\}", text)
        ids = [Identifier(f"account:{kind}", NeedleClass.ACCOUNT_ID, name, cmd)
               for name, kind in dict.fromkeys(found)]
        mi = [name for name, kind in found if kind == "com.xiaomi"]
        ids.append(Identifier("mi_account_id", NeedleClass.ACCOUNT_ID, mi[0], cmd) if mi else
                   Identifier("mi_account_id", NeedleClass.ACCOUNT_ID, None, cmd,
                              unavailable="no com.xiaomi account signed in"))
        return ids

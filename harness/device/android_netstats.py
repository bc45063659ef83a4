"""Bytes the kernel counted for an app's UID: read before and after each phase.

The verdicts compare what left according to the kernel with what the hooks captured, so the
counters must be the kernel's own, per UID, and say where they came from. By Android release:

- ``/proc/net/xt_qtaguid/stats`` (kernels with xt_qtaguid, Android 9 and devices launched with
  it): live per-UID rows; only untagged rows (``acct_tag_hex == 0x0``) are summed, because a
  tagged row repeats bytes already in the untagged one.
- ``dumpsys netstats detail`` on Android 12+ (eBPF accounting): the ``mAppUidStatsMap`` rows,
  ``uid rxBytes rxPackets txBytes txPackets``, live since boot.
- ``dumpsys netstats detail`` history (Android 9-11): the ``UID stats`` buckets of the UID with
  ``tag=0x0``, all sets, after ``dumpsys netstats --poll`` so pending bytes are recorded. Bucket
  history lags by design, so these are the coarsest of the three.
- ``/proc/uid_stat/UID/tcp_snd`` and ``tcp_rcv`` (the uid_stat driver of kernels before
  Android 8, the UID's traffic stats as TrafficStats first read them): TCP bytes only, the last
  resort when none of the above answers.

A reading is cumulative; a phase's bytes are ``after - before`` (:func:`delta`). Packet counts
come along where the source has them (all but ``/proc/uid_stat``): the kernel's bytes include
each packet's IP and TCP headers, which the coverage check (``harness.claims.coverage``)
subtracts as a floor per packet.
"""

from __future__ import annotations

import logging
import re

from harness.device.android_adb import AdbSession, RootMode
from harness.device.base import EgressCounters
from harness.text import is_digits

log = logging.getLogger(__name__)

QTAGUID = "/proc/net/xt_qtaguid/stats"
UID_STAT = "/proc/uid_stat"
QTAGUID_COLUMNS = ("acct_tag_hex", "uid_tag_int", "rx_bytes", "rx_packets", "tx_bytes",
                   "tx_packets")


def app_uid(session: AdbSession, package: str) -> int:
    """The app's UID from ``dumpsys package`` (``userId=`` before Android 12, ``appId=`` after)."""
    text = session.shell(["dumpsys", "package", package]).stdout
    section = text.split(f"Package [{package}]", 1)
    m = re.search(r"\b(?:userId|appId)=(\d+)", section[1]) if len(section) == 2 else None
    if m is None:
        raise session.error(f"app {package} is not installed",
                            fix=f"install it (`adb -s {session.serial} install APK`) or check "
                                "the package name with `adb shell pm list packages`")
    return int(m.group(1))


def parse_qtaguid(text: str, uid: int) -> tuple[int, int] | None:
    """(tx, rx) of a UID's untagged rows, or None when the table has no row for it."""
    found = parse_qtaguid_packets(text, uid)
    return None if found is None else (found[0], found[1])


def parse_qtaguid_packets(text: str, uid: int) -> tuple[int, int, int, int] | None:
    """(tx bytes, rx bytes, tx packets, rx packets) of a UID's untagged rows, or None.

    A header without the columns read raises ValueError; a row whose fields are not numbers
    is skipped."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("idx iface acct_tag_hex uid_tag_int"):
        raise ValueError("not an xt_qtaguid stats table")
    cols = lines[0].split()
    at = {name: i for i, name in enumerate(cols)}
    missing = [c for c in QTAGUID_COLUMNS if c not in at]
    if missing:
        raise ValueError(f"not an xt_qtaguid stats table: no {', '.join(missing)} column")
    tx = rx = txp = rxp = 0
    seen = False
    for line in lines[1:]:
        f = line.split()
        if len(f) < len(cols):
            continue
        tag = f[at["acct_tag_hex"]]
        numbers = [f[at[c]] for c in QTAGUID_COLUMNS[1:]]
        if (not re.fullmatch(r"0x[0-9a-fA-F]+", tag) or not all(is_digits(n) for n in numbers)
                or int(numbers[0]) != uid):
            continue
        if int(tag, 16) != 0:
            continue
        seen = True
        rx += int(f[at["rx_bytes"]])
        tx += int(f[at["tx_bytes"]])
        rxp += int(f[at["rx_packets"]])
        txp += int(f[at["tx_packets"]])
    return (tx, rx, txp, rxp) if seen else None


def parse_uid_stats_map(text: str, uid: int) -> tuple[int, int] | None:
    """(tx, rx) from the eBPF ``mAppUidStatsMap`` dump of Android 12+, None without the map."""
    found = parse_uid_stats_map_packets(text, uid)
    return None if found is None else (found[0], found[1])


def parse_uid_stats_map_packets(text: str, uid: int) -> tuple[int, int, int, int] | None:
    """(tx bytes, rx bytes, tx packets, rx packets) from ``mAppUidStatsMap``, or None."""
    lines = text.splitlines()
    at = next((i for i, line in enumerate(lines) if line.strip() == "mAppUidStatsMap:"), None)
    if at is None:
        return None
    for line in lines[at + 1:]:
        f = line.split()
        if f[:2] == ["uid", "rxBytes"]:
            continue
        if len(f) != 5 or not all(is_digits(x) for x in f):
            break
        if int(f[0]) == uid:
            return int(f[3]), int(f[1]), int(f[4]), int(f[2])
    return 0, 0, 0, 0


def parse_netstats_history(text: str, uid: int) -> tuple[int, int] | None:
    """(tx, rx) summed over the UID's untagged ``UID stats`` history buckets."""
    found = parse_netstats_history_packets(text, uid)
    return None if found is None else (found[0], found[1])


def parse_netstats_history_packets(text: str, uid: int) -> tuple[int, int, int, int] | None:
    """(tx bytes, rx bytes, tx packets, rx packets) over the UID's untagged buckets."""
    start = text.find("UID stats:")
    if start < 0:
        return None
    end = text.find("UID tag stats:", start)
    section = text[start:end if end >= 0 else len(text)]
    tx = rx = txp = rxp = 0
    counting = False
    for line in section.splitlines():
        ident = re.search(r"\buid=(-?\d+)\s+set=\S+\s+tag=(0x[0-9a-f]+)", line)
        if ident:
            counting = int(ident.group(1)) == uid and int(ident.group(2), 16) == 0
            continue
        if not counting:
            continue
        bucket = (re.search(r"\brb=(\d+)\s+rp=(\d+)\s+tb=(\d+)\s+tp=(\d+)", line)
                  or re.search(r"\brxBytes=(\d+)\s+rxPackets=(\d+)\s+txBytes=(\d+)\s+"
                               r"txPackets=(\d+)", line))
        if bucket:
            rx += int(bucket.group(1))
            rxp += int(bucket.group(2))
            tx += int(bucket.group(3))
            txp += int(bucket.group(4))
    return tx, rx, txp, rxp


def read_counters(session: AdbSession, uid: int) -> EgressCounters | None:
    """The best source this device has, or None when it has none readable."""
    # Callers outside the net_bw_stats group see only their own rows, silently: read as root
    # where there is root, every time, so two readings of one run always see the same rows.
    qt = session.shell(["cat", QTAGUID], root=session.root_mode is not RootMode.NONE)
    if qt.ok and qt.stdout.startswith("idx "):
        try:
            found = parse_qtaguid_packets(qt.stdout, uid) or (0, 0, 0, 0)
        except ValueError as exc:  # a layout this parser does not know: the next source
            log.warning("%s: %s unreadable (%s); trying dumpsys netstats", session.serial,
                        QTAGUID, exc)
        else:
            return EgressCounters(found[0], found[1], QTAGUID, found[2], found[3])
    detail = session.shell(["dumpsys", "netstats", "detail"])
    if not detail.ok:
        return None
    live = parse_uid_stats_map_packets(detail.stdout, uid)
    if live is not None:
        return EgressCounters(live[0], live[1], "dumpsys netstats detail: mAppUidStatsMap",
                              live[2], live[3])
    session.shell(["dumpsys", "netstats", "--poll"])
    detail = session.shell(["dumpsys", "netstats", "detail"])
    history = parse_netstats_history_packets(detail.stdout, uid)
    if history is not None:
        return EgressCounters(history[0], history[1],
                              "dumpsys netstats detail: UID stats history", history[2],
                              history[3])
    return read_uid_stat(session, uid)


def read_uid_stat(session: AdbSession, uid: int) -> EgressCounters | None:
    """The UID's traffic stats from ``/proc/uid_stat/UID/tcp_snd|tcp_rcv`` (the uid_stat
    driver of kernels before Android 8, which TrafficStats read before xt_qtaguid): TCP only,
    so the source says so. A UID that has sent nothing yet has no directory: 0, 0."""
    base = f"{UID_STAT}/{uid}"
    if session.stat(UID_STAT) is None:
        return None
    res = session.shell(["cat", f"{base}/tcp_snd", f"{base}/tcp_rcv"])
    values = res.stdout.split()
    if res.ok and len(values) == 2 and all(is_digits(v) for v in values):
        return EgressCounters(int(values[0]), int(values[1]), f"{base}/tcp_snd,tcp_rcv (TCP only)")
    if session.stat(base) is None:
        return EgressCounters(0, 0, f"{base}/tcp_snd,tcp_rcv (TCP only)")
    return None


def delta(before: EgressCounters, after: EgressCounters) -> EgressCounters:
    """Bytes between two readings of the same source (a counter reset reads as 0, not < 0)."""
    if before.source != after.source:
        raise ValueError(f"counters from different sources: {before.source} / {after.source}")
    def packets(a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else max(0, b - a)

    return EgressCounters(max(0, after.tx_bytes - before.tx_bytes),
                          max(0, after.rx_bytes - before.rx_bytes), after.source,
                          packets(before.tx_packets, after.tx_packets),
                          packets(before.rx_packets, after.rx_packets))

"""Egress counters per Android release and QUIC blocking, against fake phones."""

from __future__ import annotations

import pytest

from harness.device.android_adb import AdbEndpoint, AdbSession
from harness.device.android_netstats import (
    QTAGUID,
    app_uid,
    delta,
    parse_netstats_history,
    parse_qtaguid,
    parse_uid_stats_map,
    read_counters,
)
from harness.device.android_quic import (
    ChromeCommandLine,
    QuicFirewall,
    chain_name,
    cleanup_leftovers,
    leftover_chains,
)
from harness.device.base import EgressCounters
from harness.errors import DeviceError
from harness.testing import fake_phones as fp
from harness.testing.fake_adb import FakeAdbServer
from harness.testing.fake_phone import FakeFile, FakePhone
from harness.testing.transcripts import transcript


def test_qtaguid_sums_untagged_rows_of_the_uid() -> None:
    text = transcript("xt_qtaguid_stats.txt")
    # rows 5, 6 and 8 (wlan0 sets 0/1, rmnet) but not the tagged row 7
    assert parse_qtaguid(text, fp.MINT_UID) == (24118 + 12000 + 50, 183244 + 65536 + 100)
    assert parse_qtaguid(text, 99999) is None
    with pytest.raises(ValueError, match="not an xt_qtaguid"):
        parse_qtaguid("nope", 1)


def test_netstats_history_counts_untagged_buckets_only() -> None:
    text = transcript("dumpsys_netstats_detail_android10.txt")
    assert parse_netstats_history(text, fp.MINT_UID) == (20000 + 1500 + 700,
                                                         120000 + 3000 + 5000)
    assert parse_uid_stats_map(text, fp.MINT_UID) is None


def test_ebpf_map_of_android_14() -> None:
    text = transcript("dumpsys_netstats_detail_android14.txt")
    assert parse_uid_stats_map(text, fp.CHROME_UID) == (311424, 2516582)
    assert parse_uid_stats_map(text, 4242) == (0, 0)


def test_uid_from_dumpsys_package_android_10_and_14(ginkgo_session: AdbSession,
                                                    pixel_session: AdbSession) -> None:
    assert app_uid(ginkgo_session, "com.mi.globalbrowser.mini") == fp.MINT_UID
    assert app_uid(pixel_session, "com.android.chrome") == fp.CHROME_UID
    with pytest.raises(DeviceError, match=r"device a1b2c3d4: app org\.mozilla\.firefox is not "
                                          r"installed") as err:
        app_uid(ginkgo_session, "org.mozilla.firefox")
    assert err.value.exit_code == 4


def test_source_is_chosen_per_release(ginkgo_session: AdbSession, ginkgo: FakePhone,
                                      pixel_session: AdbSession) -> None:
    c = read_counters(ginkgo_session, fp.MINT_UID)
    assert c == EgressCounters(36168, 248880, "/proc/net/xt_qtaguid/stats", 172, 211)
    del ginkgo.files["/proc/net/xt_qtaguid/stats"]
    c = read_counters(ginkgo_session, fp.MINT_UID)
    assert c == EgressCounters(22200, 128000, "dumpsys netstats detail: UID stats history",
                               98, 110)  # untagged buckets of both sets; the 0x2a tag left out
    assert "dumpsys netstats --poll" in ginkgo.commands
    c = read_counters(pixel_session, fp.CHROME_UID)
    assert c == EgressCounters(311424, 2516582, "dumpsys netstats detail: mAppUidStatsMap",
                               1800, 2203)


def test_before_and_after_a_phase(ginkgo_session: AdbSession, ginkgo: FakePhone) -> None:
    before = read_counters(ginkgo_session, fp.MINT_UID)
    stats = ginkgo.files["/proc/net/xt_qtaguid/stats"]
    ginkgo.files["/proc/net/xt_qtaguid/stats"] = FakeFile(stats.data.replace(
        b"10187 0 183244 160 24118 131", b"10187 0 283244 260 29118 171"))
    after = read_counters(ginkgo_session, fp.MINT_UID)
    assert before is not None
    assert after is not None
    assert delta(before, after) == EgressCounters(5000, 100000, "/proc/net/xt_qtaguid/stats",
                                                  40, 100)


def test_iptables_rules_added_and_removed(ginkgo_session: AdbSession, ginkgo: FakePhone) -> None:
    fw = QuicFirewall(ginkgo_session, fp.MINT_UID, "run-20261122-1")
    with fw as active:
        assert "uid 10187" in active.describe()
        for tool in ("iptables", "ip6tables"):
            chains = ginkgo.iptables[tool]
            assert chains["OUTPUT"][0][-2:] == ["-j", "egh_run-20261122-1"]
            rules = chains["egh_run-20261122-1"]
            assert [r[r.index("--dport") + 1] for r in rules] == ["443", "80"]
            assert all(r[r.index("--uid-owner") + 1] == "10187" for r in rules)
            assert all(r[-1] == "REJECT" for r in rules)
        assert any(c.startswith("su -c 'iptables -w -N egh_run-20261122-1'")
                   for c in ginkgo.commands)
    assert ginkgo.iptables == {"iptables": {"OUTPUT": []}, "ip6tables": {"OUTPUT": []}}


def test_leftovers_after_a_crash_are_found_and_removed(ginkgo_session: AdbSession,
                                                       ginkgo: FakePhone) -> None:
    QuicFirewall(ginkgo_session, fp.MINT_UID, "crashed-run").install()  # never removed
    found = leftover_chains(ginkgo_session)
    assert [(tool, chain) for tool, chain, _ in found] == [
        ("iptables", "egh_crashed-run"), ("ip6tables", "egh_crashed-run")]
    assert cleanup_leftovers(ginkgo_session) == ["iptables egh_crashed-run",
                                                 "ip6tables egh_crashed-run"]
    assert ginkgo.iptables == {"iptables": {"OUTPUT": []}, "ip6tables": {"OUTPUT": []}}
    assert leftover_chains(ginkgo_session) == []


def test_partial_install_is_rolled_back(ginkgo_session: AdbSession, ginkgo: FakePhone) -> None:
    ginkgo.iptables["ip6tables"]["egh_r"] = []  # the second -N fails
    with pytest.raises(DeviceError, match="Chain already exists"):
        QuicFirewall(ginkgo_session, fp.MINT_UID, "r").install()
    assert ginkgo.iptables["iptables"] == {"OUTPUT": []}


def test_no_root_no_firewall(pixel_session: AdbSession) -> None:
    with pytest.raises(DeviceError, match="no root: blocking QUIC"):
        QuicFirewall(pixel_session, fp.CHROME_UID, "r").install()


def test_chain_names_fit_iptables() -> None:
    assert len(chain_name("x" * 60)) == 28
    assert chain_name("a b/c") == "egh_a_b_c"


def test_chrome_command_line_route(pixel_session: AdbSession, pixel: FakePhone) -> None:
    with ChromeCommandLine(pixel_session, "com.android.chrome") as flags:
        assert pixel.files["/data/local/tmp/chrome-command-line"].data == b"_ --disable-quic\n"
        assert "am set-debug-app --persistent com.android.chrome" in pixel.commands
        assert "not confirmable" in flags.describe()
    assert "/data/local/tmp/chrome-command-line" not in pixel.files
    assert "am clear-debug-app" in pixel.commands


def test_chrome_command_line_keeps_a_previous_file(pixel_session: AdbSession,
                                                   pixel: FakePhone) -> None:
    pixel.files["/data/local/tmp/chrome-command-line"] = FakeFile(b"_ --enable-logging\n")
    with ChromeCommandLine(pixel_session, "com.android.chrome"):
        pass
    assert pixel.files["/data/local/tmp/chrome-command-line"].data == b"_ --enable-logging\n"


def test_kernel_without_comment_match_tags_by_chain_name(ginkgo_session: AdbSession,
                                                         ginkgo: FakePhone) -> None:
    ginkgo.xt_comment = False
    fw = QuicFirewall(ginkgo_session, fp.MINT_UID, "nocomment")
    with fw:
        assert fw.comments is False
        assert ginkgo.iptables["iptables"]["OUTPUT"] == [["-j", "egh_nocomment"]]
        assert len(ginkgo.iptables["ip6tables"]["egh_nocomment"]) == 2
    assert ginkgo.iptables == {"iptables": {"OUTPUT": []}, "ip6tables": {"OUTPUT": []}}
    QuicFirewall(ginkgo_session, fp.MINT_UID, "nocomment2").install()
    assert cleanup_leftovers(ginkgo_session) == ["iptables egh_nocomment2",
                                                 "ip6tables egh_nocomment2"]


def test_qtaguid_is_read_as_root_where_there_is_root(ginkgo_session: AdbSession,
                                                      ginkgo: FakePhone) -> None:
    assert read_counters(ginkgo_session, 4242) == EgressCounters(0, 0, QTAGUID, 0, 0)
    assert "su -c 'cat /proc/net/xt_qtaguid/stats'" in ginkgo.commands


def test_uid_stat_is_the_last_resort_and_says_tcp_only() -> None:
    box = fp.kitkat_box()
    box.files["/proc/uid_stat/10050/tcp_snd"] = FakeFile(b"1234\n", mode=0o100444)
    box.files["/proc/uid_stat/10050/tcp_rcv"] = FakeFile(b"5678\n", mode=0o100444)
    with FakeAdbServer(box) as server:
        session = AdbSession(AdbEndpoint("127.0.0.1", server.port), box.serial)
        assert read_counters(session, 10050) == EgressCounters(
            1234, 5678, "/proc/uid_stat/10050/tcp_snd,tcp_rcv (TCP only)")
        # a UID that has not sent anything has no directory yet
        assert read_counters(session, 10051) == EgressCounters(
            0, 0, "/proc/uid_stat/10051/tcp_snd,tcp_rcv (TCP only)")
        for path in list(box.files):
            if path.startswith("/proc/uid_stat/"):
                del box.files[path]
        assert read_counters(session, 10050) is None

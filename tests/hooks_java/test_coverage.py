"""Coverage: every table entry installed, skipped (with the class name) or failed (with the
reason); classes that appear later in another class loader are hooked when they appear."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

from harness.protocol import JSON, RecordKind
from harness.testing.javafixtures import Fixtures
from tests.hooks_java.support import hooked, no_agent_errors, of_kind


def by_name(reports: list[Mapping[str, JSON]]) -> dict[str, list[Mapping[str, JSON]]]:
    out: dict[str, list[Mapping[str, JSON]]] = {}
    for r in reports:
        out.setdefault(str(r["name"]), []).append(r)
    return out


def test_plain_jvm_reports_android_stacks_skipped(fixtures: Fixtures, agent_source: str) -> None:
    with hooked(fixtures, agent_source, None, with_fixtures=False) as h:
        reports = h.run.reports
        assert reports, "init() returned no coverage"
        names = by_name(reports)
        for r in reports:
            assert r["status"] in ("installed", "skipped", "failed")
            assert r["status"] != "failed", r
        for group, cls in [
            ("java.conscrypt",
             "com.android.org.conscrypt.ConscryptFileDescriptorSocket$SSLOutputStream"),
            ("java.conscrypt.org", "org.conscrypt.ConscryptEngine"),
            ("java.webview", "android.webkit.WebView"),
            ("java.cronet", "org.chromium.net.CronetEngine$Builder"),
            ("java.android-okhttp", "com.android.okhttp.internal.http.HttpEngine"),
            ("java.sdk.sensors", "com.sensorsdata.analytics.android.sdk.SensorsDataAPI"),
            ("java.sdk.umeng", "com.umeng.analytics.MobclickAgent"),
        ]:
            group_reports = [r for r in reports if r["group"] == group]
            assert group_reports, group
            assert all(r["status"] == "skipped" for r in group_reports), group
            assert any(r["reason"] == f"class not present: {cls}" for r in group_reports), group
        for name in ["java.jsse.AppOutputStream.write", "java.jsse.SSLEngineImpl.wrap",
                     "java.okhttp3.CallServerInterceptor.intercept",
                     "java.urlconnection.HttpClient.writeRequests", "java.cipher.doFinal",
                     "java.encoders.java.Base64.encode", "java.encoders.GZIPOutputStream.finish"]:
            assert all(r["status"] == "installed" for r in names[name]), name
        # On HotSpot JSSE's own Cipher calls skip the bridge's entry and JS (a C entry,
        # centries.ts); JSSE's stream hooks and OkHttp's interceptor are entered in C
        # (centries.ts, okhttp_c.ts).
        for name in ["java.cipher.init", "java.cipher.doFinal", "java.cipher.update"]:
            assert any("pass-through calls enter through a C entry" in str(r["reason"])
                       for r in names[name]), names[name]
        for name in ["java.jsse.AppOutputStream.write", "java.jsse.AppInputStream.read",
                     "java.okhttp3.CallServerInterceptor.intercept"]:
            reasons = [r["reason"] for r in names[name]]
            assert reasons == ["entered through a C entry (1 of 1 overloads)"], name
        # The same facts travel as hook records to the harness (coverage is data).
        hook_records = of_kind(h.finish(), RecordKind.HOOK)
        assert len(hook_records) == len(reports)


def test_class_of_a_later_loader_is_hooked_before_its_first_call(fixtures: Fixtures,
                                                                 agent_source: str) -> None:
    # Umeng is absent at start; a plugin's URLClassLoader brings it and the plugin calls it
    # at once, in the same command: the very first call is captured.
    with hooked(fixtures, agent_source, None) as h:
        umeng_at_start = [r for r in h.run.reports if r["group"] == "java.sdk.umeng"]
        assert umeng_at_start
        assert all(r["status"] == "skipped" for r in umeng_at_start)
        assert h.driver.command(f"loader {fixtures.late} LATECANARY") == "called"
        assert h.driver.command(f"loader {fixtures.late} LATECANARY2") == "called"
        assert h.driver.command("sdk AFTERPLUGIN") == "done"
        records = h.finish()
        later = [r for r in h.run.hook_reports()
                 if r["group"] == "java.sdk.umeng" and r["status"] == "installed"]
        assert {str(r["name"]) for r in later} == {
            "java.sdk.umeng.MobclickAgent.onEvent", "java.sdk.umeng.MobclickAgent.onEventObject",
            "java.sdk.umeng.MobclickAgent.onProfileSignIn"}
        assert all(r["reason"] == "class appeared later" for r in later)
        umeng = [r for r in of_kind(records, RecordKind.SDK) if r.fields["sdk"] == "umeng"]
        assert [(r.fields["method"], r.fields["event"], r.fields["properties"]) for r in umeng] == [
            ("onEvent", "late_event", {"canary": "LATECANARY"}),
            ("onEvent", "late_event", {"canary": "LATECANARY2"})]
        frames = umeng[0].fields["frames"]
        assert isinstance(frames, list)
        assert str(frames[0]).startswith("egress.plugin.Plugin.run(")
        assert umeng[0].fields["sender"] == "com.umeng.analytics"
        # The other SDKs keep working after the late install.
        assert any(r.fields["sdk"] == "sensors" for r in of_kind(records, RecordKind.SDK))
        no_agent_errors(h)


def test_umeng_present_at_start_is_hooked_at_init(fixtures: Fixtures, agent_source: str) -> None:
    # The same plugin classes on the class path from the start: installed by init(), not later.
    with hooked(fixtures, agent_source, None, extra_classpath=[fixtures.late]) as h:
        umeng = [r for r in h.run.reports if r["group"] == "java.sdk.umeng"]
        assert umeng
        assert all(r["status"] == "installed" and r["reason"] is None for r in umeng)
        assert h.driver.command(f"loader {fixtures.late} EARLYCANARY") == "called"
        assert h.driver.command(f"loader {fixtures.late} UMCANARY all") == "called"
        records = of_kind(h.finish(), RecordKind.SDK)
        # Every Umeng entry point, each overload with its real signature, one record per call.
        assert [(r.fields["sdk"], r.fields["method"], r.fields["event"], r.fields["properties"])
                for r in records] == [
            ("umeng", "onEvent", "late_event", {"canary": "EARLYCANARY"}),
            ("umeng", "onEvent", "plain_event", {}),
            ("umeng", "onEvent", "label_event", {"label": "label-UMCANARY"}),
            ("umeng", "onEventObject", "object_event", {"canary": "UMCANARY", "n": 5}),
            ("umeng", "onProfileSignIn", "onProfileSignIn", {"puid": "puid-UMCANARY"}),
            ("umeng", "onProfileSignIn", "onProfileSignIn",
             {"provider": "WB", "puid": "puid2-UMCANARY"}),
        ]
        assert all(r.fields["sender"] == "com.umeng.analytics" for r in records)
        no_agent_errors(h)


def test_excluded_and_absent_sdks_leave_the_others_working(fixtures: Fixtures,
                                                          agent_source: str) -> None:
    # Sensors excluded by configuration, Umeng absent: every other SDK still reports.
    with hooked(fixtures, agent_source, None, config={"exclude": ["java.sdk.sensors"]}) as h:
        sensors = [r for r in h.run.reports if r["group"] == "java.sdk.sensors"]
        assert sensors
        assert all(r["status"] == "skipped"
                   and r["reason"] == "excluded by configuration" for r in sensors)
        assert h.driver.command("sdk ABSENT") == "done"
        sdks = {str(r.fields["sdk"]) for r in of_kind(h.finish(), RecordKind.SDK)}
        assert sdks == {"onetrack", "mistat", "firebase", "appsflyer", "adjust", "facebook"}
        no_agent_errors(h)


def test_missing_method_in_present_class_is_skipped_not_failed(fixtures: Fixtures,
                                                               agent_source: str) -> None:
    # AppsFlyer 6 removed trackEvent (logEvent replaced it); the stand-in is that version.
    with hooked(fixtures, agent_source, None) as h:
        r = by_name(h.run.reports)["java.sdk.appsflyer.AppsFlyerLib.trackEvent"][0]
        assert r["status"] == "skipped"
        assert r["reason"] == "method not present: com.appsflyer.AppsFlyerLib.trackEvent"
        others = [x for x in h.run.reports if x["group"] == "java.sdk.appsflyer"
                  and x["name"] != "java.sdk.appsflyer.AppsFlyerLib.trackEvent"]
        assert others
        assert all(x["status"] == "installed" for x in others)


BROKEN_ADJUST = """package com.adjust.sdk;
public class Adjust {
    static { if (Boolean.TRUE) { throw new IllegalStateException("no context yet"); } }
    public static void trackEvent(Object event) {}
}
"""


def test_class_that_cannot_initialize_is_failed_with_the_reason(
        fixtures: Fixtures, agent_source: str, tmp_path: Path) -> None:
    # An SDK class whose static initializer throws: its entries are failed, with the reason,
    # not "class not present"; every other table installs or skips as usual.
    src = tmp_path / "src" / "com" / "adjust" / "sdk"
    src.mkdir(parents=True)
    (src / "Adjust.java").write_text(BROKEN_ADJUST)
    out = tmp_path / "classes"
    subprocess.run(["javac", "-d", str(out), str(src / "Adjust.java")], check=True,
                   capture_output=True, timeout=120)
    with hooked(fixtures, agent_source, None, with_fixtures=False, extra_classpath=[out]) as h:
        adjust = [r for r in h.run.reports if r["group"] == "java.sdk.adjust"]
        assert adjust
        assert all(r["status"] == "failed" for r in adjust), adjust
        assert all("ExceptionInInitializerError" in str(r["reason"])
                   or "Could not initialize class com.adjust.sdk.Adjust" in str(r["reason"])
                   for r in adjust), adjust
        names = by_name(h.run.reports)
        assert names["java.okhttp3.CallServerInterceptor.intercept"][0]["status"] == "installed"
        assert names["java.sdk.sensors.SensorsDataAPI.track"][0]["status"] == "skipped"

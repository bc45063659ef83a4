package egress.testapp;

import android.content.Context;
import android.os.Bundle;
import android.webkit.WebResourceRequest;
import android.webkit.WebResourceResponse;
import android.webkit.WebView;
import android.webkit.WebViewClient;
import com.adjust.sdk.Adjust;
import com.adjust.sdk.AdjustEvent;
import com.appsflyer.AppsFlyerLib;
import com.facebook.appevents.AppEventsLogger;
import com.google.firebase.analytics.FirebaseAnalytics;
import com.sensorsdata.analytics.android.sdk.SensorsDataAPI;
import com.xiaomi.mistatistic.sdk.MiStatInterface;
import com.xiaomi.onetrack.OneTrack;
import java.io.File;
import java.math.BigDecimal;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.Currency;
import java.util.LinkedHashMap;
import java.util.Map;
import org.chromium.net.CronetEngine;
import org.chromium.net.UrlRequest;
import org.json.JSONObject;

/** The driver's calls into Android and analytics SDK names (stand-ins on a JVM). */
final class AndroidCalls {
    static final Context CONTEXT = new Context() {
        @Override public String getPackageName() { return "egress.testapp"; }
    };

    private AndroidCalls() {}

    static String sdk(String canary) throws Exception {
        JSONObject props = new JSONObject().put("url", "https://canary.example/" + canary).put("n", 7);
        SensorsDataAPI.sharedInstance(CONTEXT, "https://127.0.0.1:1/sa");
        SensorsDataAPI sa = SensorsDataAPI.sharedInstance();
        sa.track("BrowserVisit", props);
        sa.trackInstallation("AppInstall", new JSONObject().put("channel", "store"));
        sa.login("user-" + canary);
        sa.identify("device-" + canary);
        sa.profileSet(new JSONObject().put("city", "Beijing"));
        sa.registerSuperProperties(new JSONObject().put("$app_version", "12.1"));

        Map<String, Object> params = new LinkedHashMap<>();
        params.put("url", "https://canary.example/" + canary);
        params.put("count", 3);
        OneTrack ot = OneTrack.createInstance(CONTEXT, null);
        ot.track("web_visit", params);
        ot.login("xiaomi-" + canary, OneTrack.UserIdType.XIAOMI, params, false);

        Map<String, String> sparams = new LinkedHashMap<>();
        sparams.put("q", canary);
        MiStatInterface.recordCountEvent("search", "query", sparams);
        MiStatInterface.recordCalculateEvent("page", "duration", 1234L);

        Bundle b = new Bundle();
        b.putString("item", canary);
        b.putLong("value", 42L);
        FirebaseAnalytics fa = FirebaseAnalytics.getInstance(CONTEXT);
        fa.logEvent("select_content", b);
        fa.setUserId("fb-" + canary);
        fa.setUserProperty("favorite", canary);

        Map<String, Object> af = new LinkedHashMap<>();
        af.put("af_content_id", canary);
        AppsFlyerLib.getInstance().logEvent(CONTEXT, "af_content_view", af);

        AdjustEvent ev = new AdjustEvent("abc123");
        ev.addCallbackParameter("canary", canary);
        Adjust.trackEvent(ev);

        Bundle fb = new Bundle();
        fb.putString("content", canary);
        AppEventsLogger.newLogger(CONTEXT).logEvent("fb_mobile_content_view", fb);
        AppEventsLogger.newLogger(CONTEXT).logPurchase(new BigDecimal("9.99"), Currency.getInstance("EUR"), fb);
        return "done";
    }

    static String sensors(String url, String canary) throws Exception {
        SensorsDataAPI sa = SensorsDataAPI.sharedInstance(CONTEXT, url);
        sa.track("BrowserVisit", new JSONObject().put("url", "https://canary.example/" + canary));
        return Integer.toString(sa.flush());
    }

    static final class AppClient extends WebViewClient {
        @Override public void onPageFinished(WebView view, String url) {}
        @Override public WebResourceResponse shouldInterceptRequest(WebView view, WebResourceRequest request) {
            return null;
        }
    }

    static String webview(String canary) {
        WebView w = new WebView(CONTEXT);
        w.loadUrl("https://canary.example/before-client/" + canary);
        w.setWebViewClient(new AppClient());
        w.loadUrl("https://canary.example/page/" + canary);
        w.postUrl("https://canary.example/post", ("q=" + canary).getBytes(StandardCharsets.UTF_8));
        w.loadDataWithBaseURL("https://canary.example/base", "<p>" + canary + "</p>", "text/html", "utf-8", null);
        w.evaluateJavascript("window.canary='" + canary + "'", null);
        return "done";
    }

    static String cronet(String canary) {
        CronetEngine e = new CronetEngine.Builder(CONTEXT).enableQuic(true).build();
        UrlRequest.Builder b = e.newUrlRequestBuilder("https://canary.example/cronet/" + canary, null, null);
        b.setHttpMethod("PUT");
        b.addHeader("X-Canary", canary);
        b.build().start();
        return "quic=" + e.quicEnabledForTesting;
    }

    /** A plugin-style loader made on first use and kept (the agent hooks its classes soon
     *  after it appears: "loader DIR -" makes it, "loader DIR CANARY" calls into it). */
    static URLClassLoader late;

    static String loader(String dir, String canary) throws Exception {
        if (late == null) {
            late = new URLClassLoader(new URL[] {new File(dir).toURI().toURL()},
                Driver.class.getClassLoader());
        }
        URLClassLoader l = late;
        Class<?> c = Class.forName("egress.plugin.Plugin", true, l);
        if (canary.equals("-")) {
            return "loaded";
        }
        return (String) c.getMethod("run", Context.class, String.class).invoke(null, CONTEXT, canary);
    }

}

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

    /** The entry points sdk() does not call: every other overload of every SDK table. */
    static String sdkRest(String canary) throws Exception {
        SensorsDataAPI sa = SensorsDataAPI.sharedInstance(CONTEXT, "https://127.0.0.1:1/sa");
        sa.trackViewScreen("https://canary.example/view/" + canary, new JSONObject().put("title", "T"));
        sa.profileSet("nickname", canary);

        Map<String, Object> common = new LinkedHashMap<>();
        common.put("channel", canary);
        OneTrack ot = OneTrack.createInstance(CONTEXT, null);
        ot.setUserProfile("age", 30);
        ot.setUserProfile(common);
        ot.setCommonProperty(common);

        MiStatInterface.recordCountEvent("menu", "open");
        Map<String, String> mp = new LinkedHashMap<>();
        mp.put("q", canary);
        MiStatInterface.recordCalculateEvent("page", "duration", 99L, mp);
        MiStatInterface.recordStringPropertyEvent("user", "city", canary);
        MiStatInterface.recordNumericPropertyEvent("user", "age", 30L);

        Bundle defaults = new Bundle();
        defaults.putString("campaign", canary);
        FirebaseAnalytics.getInstance(CONTEXT).setDefaultEventParameters(defaults);

        AppsFlyerLib.getInstance().setCustomerUserId("af-" + canary);

        AdjustEvent ev = new AdjustEvent("rev789");
        ev.setRevenue(1.5, "EUR");
        ev.addPartnerParameter("p", canary);
        Adjust.trackEvent(ev);
        Adjust.addSessionCallbackParameter("session", canary);
        Adjust.addSessionPartnerParameter("partner", canary);

        AppEventsLogger fb = AppEventsLogger.newLogger(CONTEXT);
        Bundle fbp = new Bundle();
        fbp.putString("content", canary);
        fb.logEvent("fb_plain");
        fb.logEvent("fb_sum", 2.5);
        fb.logEvent("fb_sum_props", 3.5, fbp);
        AppEventsLogger.setUserID("fbuser-" + canary);
        return "done";
    }

    /** Every encoder entry point the sensors and cipher commands do not reach; returns the
     *  outputs (hex, comma separated) so the test can compare them with the records. */
    static String encoders(String canary) throws Exception {
        byte[] in = ("enc-" + canary).getBytes(StandardCharsets.UTF_8);
        java.util.List<String> outs = new java.util.ArrayList<>();
        outs.add(hex(android.util.Base64.encode(in, android.util.Base64.NO_WRAP)));
        outs.add(hex(android.util.Base64.encode(in, 1, in.length - 1, android.util.Base64.URL_SAFE)));
        outs.add(hex(android.util.Base64.encodeToString(in, 2, in.length - 2, android.util.Base64.NO_PADDING)
            .getBytes(StandardCharsets.US_ASCII)));
        byte[] dst = new byte[64];
        int n = java.util.Base64.getEncoder().encode(in, dst);
        outs.add(hex(java.util.Arrays.copyOf(dst, n)));
        java.nio.ByteBuffer bb = java.util.Base64.getUrlEncoder().encode(java.nio.ByteBuffer.wrap(in));
        byte[] bbo = new byte[bb.remaining()];
        bb.get(bbo);
        outs.add(hex(bbo));
        java.util.zip.Deflater d = new java.util.zip.Deflater();
        d.setInput(in, 0, in.length);
        d.finish();
        byte[] buf = new byte[256];
        int dn = d.deflate(buf, 0, buf.length, java.util.zip.Deflater.NO_FLUSH);
        d.end();
        outs.add(hex(java.util.Arrays.copyOf(buf, dn)));
        javax.crypto.Cipher c = javax.crypto.Cipher.getInstance("AES/GCM/NoPadding");
        javax.crypto.spec.SecretKeySpec k = new javax.crypto.spec.SecretKeySpec(
            "0123456789abcdef0123456789abcdef".getBytes(StandardCharsets.US_ASCII), "AES");
        javax.crypto.spec.GCMParameterSpec iv = new javax.crypto.spec.GCMParameterSpec(
            128, "0123456789ab".getBytes(StandardCharsets.US_ASCII));
        c.init(javax.crypto.Cipher.ENCRYPT_MODE, k, iv);
        java.nio.ByteBuffer ct = java.nio.ByteBuffer.allocate(in.length + 16);
        c.doFinal(java.nio.ByteBuffer.wrap(in), ct);
        byte[] sealed = java.util.Arrays.copyOf(ct.array(), ct.position());
        outs.add(hex(sealed));
        c.init(javax.crypto.Cipher.DECRYPT_MODE, k, iv);
        byte[] opened = new byte[in.length];
        int on = c.doFinal(sealed, 0, sealed.length, opened, 0);
        outs.add(hex(java.util.Arrays.copyOf(opened, on)));
        return String.join(",", outs);
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (byte x : b) {
            sb.append(String.format("%02x", x & 0xff));
        }
        return sb.toString();
    }

    /** conscrypt HOST PORT PAYLOAD PKG: like Driver.jsse, through the Conscrypt socket
     *  stand-in of the platform (com.android.org.conscrypt) or app-bundled (org.conscrypt). */
    static String conscrypt(String host, int port, String payload, String pkg) throws Exception {
        javax.net.ssl.SSLSocket s = pkg.equals("org")
            ? new org.conscrypt.ConscryptFileDescriptorSocket(host, port)
            : new com.android.org.conscrypt.ConscryptFileDescriptorSocket(host, port);
        try (s) {
            byte[] req = ("POST /conscrypt-" + pkg + " HTTP/1.1\r\nHost: " + host
                + "\r\nContent-Length: " + payload.length() + "\r\nConnection: close\r\n\r\n"
                + payload).getBytes(StandardCharsets.UTF_8);
            s.getOutputStream().write(req, 0, 7);
            s.getOutputStream().write(req, 7, req.length - 7);
            s.getOutputStream().flush();
            byte[] resp = s.getInputStream().readAllBytes();
            return Integer.toString(resp.length);
        }
    }

    /** aokhttp URL CANARY: Android's HttpURLConnection engine (com.android.okhttp) stand-in. */
    static String androidOkhttp(String url, String canary) throws Exception {
        java.net.URI u = java.net.URI.create(url);
        com.android.okhttp.Headers h = new com.android.okhttp.Headers.Builder()
            .add("Host", u.getHost() + ":" + u.getPort()).add("X-Canary", canary)
            .add("Connection", "close").build();
        com.android.okhttp.Request r = new com.android.okhttp.Request(url, "GET", h);
        try (javax.net.ssl.SSLSocket s = (javax.net.ssl.SSLSocket)
                javax.net.ssl.SSLSocketFactory.getDefault().createSocket(u.getHost(), u.getPort())) {
            com.android.okhttp.internal.http.HttpEngine e =
                new com.android.okhttp.internal.http.HttpEngine(r, s);
            e.readResponse();
            return Integer.toString(e.getResponse().code());
        }
    }

    static String sensors(String url, String canary) throws Exception {
        SensorsDataAPI sa = SensorsDataAPI.sharedInstance(CONTEXT, url);
        sa.track("BrowserVisit", new JSONObject().put("url", "https://canary.example/" + canary));
        return Integer.toString(sa.flush());
    }

    /** twosites TAG: the same SDK method from two lines of one method, alternately, twice
     *  each: attribution (cached per call path) must name each call's own line. */
    static String twoSites(String tag) throws Exception {
        SensorsDataAPI sa = SensorsDataAPI.sharedInstance(CONTEXT, "http://127.0.0.1:9/unused");
        for (int i = 0; i < 2; i++) {
            sa.track(tag + "-a" + i, new JSONObject().put("site", "A"));
            sa.track(tag + "-b" + i, new JSONObject().put("site", "B"));
        }
        return "done";
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
        return loader(dir, canary, "run");
    }

    static String loader(String dir, String canary, String method) throws Exception {
        if (late == null) {
            late = new URLClassLoader(new URL[] {new File(dir).toURI().toURL()},
                Driver.class.getClassLoader());
        }
        URLClassLoader l = late;
        Class<?> c = Class.forName("egress.plugin.Plugin", true, l);
        if (canary.equals("-")) {
            return "loaded";
        }
        return (String) c.getMethod(method, Context.class, String.class).invoke(null, CONTEXT, canary);
    }

}

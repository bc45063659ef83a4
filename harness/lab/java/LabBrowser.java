// The lab browser: a stand-in for a Chromium-based browser with an analytics SDK, for
// `harness run` / `harness demo` on a machine without a phone. It takes steps as JSON lines
// on stdin and answers one JSON line per step on stdout. Page loads go through
// java.net.http.HttpClient; analytics leave in the Sensors Analytics Android wire format
// (form crc / gzip=1 / data_list = base64(gzip(JSON array))) over HttpsURLConnection;
// history sync posts JSON. Behaviour comes from a profile standing for a firmware build:
//   mint-3.4.0  as reported in 2020: URLs and search words sent in incognito too, an
//               anonymous id that never rotates, the device id in every event, TLS 1.2;
//   mint-3.4.3  as claimed after the fix: with usage statistics off nothing is sent in
//               incognito; ids rotate at every launch; TLS 1.3.
// Only the JDK is used. Host names resolve through -Djdk.net.hosts.file (loopback).

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.URI;
import java.net.URL;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.zip.GZIPOutputStream;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

public final class LabBrowser {
    private final String profile;
    private final boolean fixed;
    private final Path stateDir;
    private final String saUrl;
    private final String syncUrl;
    private final String androidId;
    private final String imei;
    private final HttpClient pages;
    private final SSLSocketFactory analyticsTls;
    private final SSLSocketFactory syncTls;

    private boolean incognito = false;
    private boolean signedIn = false;
    private boolean sync = false;
    private boolean usageStats = true;
    private String account = null;
    private String anonymousId;
    private final List<String> history = new ArrayList<>();
    private final List<Map<String, Object>> pending = new ArrayList<>();

    LabBrowser(String profile, Path stateDir, String saUrl, String syncUrl, String caPem,
               String androidId, String imei) throws Exception {
        this.profile = profile;
        this.fixed = !profile.equals("mint-3.4.0");
        this.stateDir = stateDir;
        this.saUrl = saUrl;
        this.syncUrl = syncUrl;
        this.androidId = androidId;
        this.imei = imei;
        SSLContext pageCtx = context(caPem, "TLS");
        this.pages = HttpClient.newBuilder().sslContext(pageCtx).version(HttpClient.Version.HTTP_2)
            .connectTimeout(Duration.ofSeconds(10)).build();
        this.analyticsTls = context(caPem, fixed ? "TLSv1.3" : "TLSv1.2").getSocketFactory();
        this.syncTls = pageCtx.getSocketFactory();
        Files.createDirectories(stateDir);
        this.anonymousId = loadOrCreateAnonymousId();
    }

    private static SSLContext context(String caPem, String protocol) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (var in = Files.newInputStream(Path.of(caPem))) {
            ks.setCertificateEntry("lab-ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance(protocol);
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    // mint-3.4.0 keeps one "anonymous" id forever (the 90-day rotation never happened);
    // mint-3.4.3 makes a new one at every launch.
    private String loadOrCreateAnonymousId() throws Exception {
        Path f = stateDir.resolve("anonymous_id");
        if (!fixed && Files.exists(f)) {
            return Files.readString(f).trim();
        }
        String id = UUID.randomUUID().toString();
        Files.writeString(f, id);
        return id;
    }

    private void clearData() throws Exception {
        Files.deleteIfExists(stateDir.resolve("anonymous_id"));
        history.clear();
        signedIn = false;
        account = null;
        anonymousId = loadOrCreateAnonymousId();
    }

    // --- analytics -----------------------------------------------------------------------

    private boolean collecting() {
        return !(fixed && incognito && !usageStats);
    }

    private void track(String event, Map<String, Object> props) throws Exception {
        if (!collecting()) {
            return;
        }
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("uuid", fixed ? UUID.randomUUID().toString() : anonymousId);
        p.put("internet_status", "wifi");
        p.put("platform", "android");
        p.put("miui_version", "V11.0.8.0.PCOMIXM");
        p.put("miui_region", "GB");
        p.put("system_language", "en_GB");
        p.put("$app_version", profile.substring(5));
        p.put("$model", "Redmi Note 8");
        p.put("$manufacturer", "Xiaomi");
        if (!fixed) {
            p.put("$device_id", androidId);
            p.put("imei", imei);
        }
        p.putAll(props);
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("type", "track");
        e.put("event", event);
        e.put("time", System.currentTimeMillis());
        e.put("distinct_id", signedIn && account != null ? account : anonymousId);
        e.put("anonymous_id", anonymousId);
        if (signedIn && account != null) {
            e.put("login_id", account);
        }
        e.put("lib", Map.of("$lib", "Android", "$lib_version", "4.3.2"));
        e.put("properties", p);
        pending.add(e);
    }

    private int flushAnalytics() throws Exception {
        if (pending.isEmpty()) {
            return 0;
        }
        String json = Json.write(pending);
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(raw)) {
            gz.write(json.getBytes(StandardCharsets.UTF_8));
        }
        String data = Base64.getEncoder().encodeToString(raw.toByteArray());
        String body = "crc=" + data.hashCode() + "&gzip=1&data_list="
            + URLEncoder.encode(data, StandardCharsets.UTF_8);
        int n = pending.size();
        pending.clear();
        post(saUrl, "application/x-www-form-urlencoded", body, analyticsTls);
        return n;
    }

    private void syncHistory() throws Exception {
        if (!(signedIn && sync) || incognito || history.isEmpty()) {
            return;
        }
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("account", account);
        doc.put("history", new ArrayList<>(history));
        history.clear();
        post(syncUrl, "application/json", Json.write(doc), syncTls);
    }

    private static void post(String url, String type, String body, SSLSocketFactory tls) throws Exception {
        HttpsURLConnection c = (HttpsURLConnection) new URL(url).openConnection();
        c.setSSLSocketFactory(tls);
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setConnectTimeout(10000);
        c.setReadTimeout(10000);
        c.setRequestProperty("Content-Type", type);
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        c.setFixedLengthStreamingMode(bytes.length);
        try (OutputStream out = c.getOutputStream()) {
            out.write(bytes);
        }
        int code = c.getResponseCode();
        c.getInputStream().readAllBytes();
        if (code != 200) {
            throw new IllegalStateException(url + " answered " + code);
        }
    }

    // --- steps ---------------------------------------------------------------------------

    private Map<String, Object> open(String url) throws Exception {
        Map<String, Object> start = new LinkedHashMap<>();
        start.put("url", url);
        start.put("type", incognito ? "privacy" : "general");
        track("page_load_event_start", fixed && incognito ? Map.of("type", "privacy") : start);
        HttpResponse<String> r = pages.send(HttpRequest.newBuilder(URI.create(url))
            .header("x-requested-with", "com.mi.globalbrowser.mini").GET().build(),
            HttpResponse.BodyHandlers.ofString());
        track("page_load_event_finish", fixed && incognito ? Map.of("type", "privacy") : start);
        if (!incognito) {
            history.add(url);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("status", r.statusCode());
        out.put("protocol", r.version().toString());
        return out;
    }

    private Map<String, Object> handle(Map<String, Object> cmd) throws Exception {
        String op = (String) cmd.get("op");
        Object v = cmd.get("value");
        Map<String, Object> out = new LinkedHashMap<>();
        switch (op) {
            case "launch" -> track("app_start", Map.of());
            case "open_url" -> out.putAll(open((String) v));
            case "search" -> {
                String base = (String) cmd.get("search_base");
                Map<String, Object> p = new LinkedHashMap<>();
                p.put("search_word", v);
                p.put("used_searchengine", "lab");
                track("search", fixed && incognito ? Map.of("used_searchengine", "lab") : p);
                out.putAll(open(base + URLEncoder.encode((String) v, StandardCharsets.UTF_8)));
            }
            case "download" -> {
                out.putAll(open((String) v));  // the browser fetches it, as a user asked
                Map<String, Object> p = new LinkedHashMap<>();
                p.put("url", v);
                p.put("type", incognito ? "privacy" : "general");
                track("download_files", fixed && incognito ? Map.of("type", "privacy") : p);
            }
            case "incognito" -> incognito = (Boolean) v;
            case "sign_in" -> { signedIn = true; account = (String) v; track("login", Map.of()); }
            case "sign_out" -> { signedIn = false; account = null; }
            case "sync" -> sync = (Boolean) v;
            case "usage_stats" -> usageStats = (Boolean) v;
            case "clear_data" -> clearData();
            case "idle", "wait" -> Thread.sleep((long) (((Number) v).doubleValue() * 1000));
            case "background" -> track("app_background", Map.of());
            case "foreground" -> track("app_foreground", Map.of());
            case "flush" -> { }
            case "crash" -> {
                // A crash on purpose: the process dies at once, with no reply, no shutdown
                // hooks and no exit(). Runtime.halt() was not enough: with Frida attached,
                // exit was seen to hang under load (Frida's exit hooks wait for the agent).
                long pid = ProcessHandle.current().pid();
                System.err.println("lab browser: crash step: killing pid " + pid + " with SIGKILL");
                System.err.flush();
                System.out.flush();
                new ProcessBuilder("kill", "-KILL", Long.toString(pid)).inheritIO().start().waitFor();
                Thread.sleep(10_000);  // SIGKILL lands long before this
                Runtime.getRuntime().halt(70);
            }
            default -> throw new IllegalArgumentException("unknown op " + op);
        }
        out.put("events", flushAnalytics());
        syncHistory();
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: LabBrowser PROFILE STATE_DIR SA_URL SYNC_URL CA_PEM ANDROID_ID IMEI");
            System.exit(2);
        }
        LabBrowser b = new LabBrowser(args[0], Path.of(args[1]), args[2], args[3], args[4], args[5], args[6]);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println(Json.write(Map.of("ready", true, "profile", args[0],
                "pid", ProcessHandle.current().pid())));
        System.out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) {
                continue;
            }
            Map<String, Object> reply;
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> cmd = (Map<String, Object>) Json.read(line);
                if ("quit".equals(cmd.get("op"))) {
                    break;
                }
                if ("ping".equals(cmd.get("op"))) {
                    // no-op, nothing sent: the harness's teardown nudge (LabBrowserProcess.nudge)
                    System.out.println(Json.write(Map.of("ok", true)));
                    System.out.flush();
                    continue;
                }
                System.err.println("lab browser: " + cmd.get("op"));
                reply = new LinkedHashMap<>(b.handle(cmd));
                reply.put("ok", true);
            } catch (Exception e) {
                reply = new LinkedHashMap<>();
                reply.put("ok", false);
                reply.put("error", e.toString());
            }
            System.out.println(Json.write(reply));
            System.out.flush();
        }
    }
}

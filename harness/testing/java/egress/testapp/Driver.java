package egress.testapp;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/** The app the Java hook tests drive: one command per stdin line, "ok <command> ..." after
 *  each on stdout. Needs only the JDK and OkHttp; the calls into Android and SDK names live in
 *  AndroidCalls, loaded only when such a command runs, so this class also runs on a JVM
 *  without the stand-ins (where the coverage must say they are absent). */
public final class Driver {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ready");
        System.out.flush();
        String line;
        while ((line = in.readLine()) != null) {
            String[] a = line.trim().split(" ");
            String result;
            try {
                result = run(a);
            } catch (Throwable t) {
                Throwable root = t;
                while (root.getCause() != null) {
                    root = root.getCause();
                }
                result = "error " + t + (root != t ? " caused by " + root : "");
            }
            System.out.println("ok " + a[0] + " " + result);
            System.out.flush();
            if (a[0].equals("exit")) {
                break;
            }
        }
    }

    static String run(String[] a) throws Exception {
        switch (a[0]) {
            case "sdk": return AndroidCalls.sdk(a[1]);
            case "sensors": return AndroidCalls.sensors(a[1], a[2]);
            case "twosites": return AndroidCalls.twoSites(a[1]);
            case "cipher": return cipher(a[1], a[2]);
            case "cipherbad": return cipherBad();
            case "okhttp": return okhttp(a[1], a.length > 2 && a[2].equals("h2"), a.length > 3 ? a[3] : "x",
                a.length > 4 ? Integer.parseInt(a[4]) : 0, a.length > 5 ? Integer.parseInt(a[5]) : 0);
            case "okasync": return okasync(a[1], a[2]);
            case "okmany": return okmany(a[1], Integer.parseInt(a[2]), a[3].equals("h2"), a[4]);
            case "okrefuse": return okrefuse(a[1], a[2]);
            case "huc": return huc(a[1], a.length > 2 && a[2].equals("stream"));
            case "jsse": return jsse(a[1], Integer.parseInt(a[2]), a[3]);
            case "jssetimeout": return jsseTimeout(a[1], Integer.parseInt(a[2]), a[3]);
            case "jssehold": return jsseHold(a[1], Integer.parseInt(a[2]));
            case "jsseheld": return jsseHeld();
            case "jssechurn": return jsseChurn(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]));
            case "jssechurned": return jsseChurned();
            case "httpclient": return httpclient(a[1]);
            case "webview": return AndroidCalls.webview(a[1]);
            case "cronet": return AndroidCalls.cronet(a[1]);
            case "loader": return AndroidCalls.loader(a[1], a[2], a.length > 3 ? a[3] : "run");
            case "sdkrest": return AndroidCalls.sdkRest(a[1]);
            case "encoders": return AndroidCalls.encoders(a[1]);
            case "conscrypt": return AndroidCalls.conscrypt(a[1], Integer.parseInt(a[2]), a[3], a[4]);
            case "aokhttp": return AndroidCalls.androidOkhttp(a[1], a[2]);
            case "bench": return bench(a[1], Integer.parseInt(a[2]),
                a.length > 3 ? Integer.parseInt(a[3]) : 0, a.length > 4 ? Integer.parseInt(a[4]) : 0);
            case "exit": return "bye";
            default: return "unknown";
        }
    }

    static OkHttpClient client(boolean h2) {
        OkHttpClient.Builder b = new OkHttpClient.Builder()
            .connectTimeout(10, TimeUnit.SECONDS).readTimeout(10, TimeUnit.SECONDS);
        if (!h2) {
            b.protocols(java.util.Collections.singletonList(Protocol.HTTP_1_1));
        }
        return b.build();
    }

    /** okhttp URL [h2] [TAG] [PAD] [HPAD]: a POST of {"canary":"body-TAG"}, with a "pad"
     *  member of PAD bytes when PAD > 0, and an X-Pad header of HPAD bytes. */
    static String okhttp(String url, boolean h2, String tag, int pad, int headerPad) throws Exception {
        OkHttpClient c = client(h2);
        String json = pad > 0
            ? "{\"canary\":\"body-" + tag + "\",\"pad\":\"" + "p".repeat(pad) + "\"}"
            : "{\"canary\":\"body-" + tag + "\"}";
        Request r = new Request.Builder().url(url + "?tag=" + tag)
            .header("X-Canary", "hdr-" + tag)
            .header("X-Pad", "h".repeat(headerPad))
            .post(RequestBody.create(MediaType.parse("application/json"), json))
            .build();
        String proto;
        int code;
        try (Response resp = c.newCall(r).execute()) {
            resp.body().bytes();
            proto = resp.protocol().toString();
            code = resp.code();
        }
        c.connectionPool().evictAll();
        return code + " " + proto;
    }

    /** okmany URL N h1|h2 TAG: N calls on one client (one keep-alive or HTTP/2 connection),
     *  tagged TAG-0...: in turn a POST with a JSON body, a GET, a POST with an empty body.
     *  Answers each distinct "code protocol" seen. */
    static String okmany(String url, int n, boolean h2, String tag) throws Exception {
        OkHttpClient c = client(h2);
        MediaType json = MediaType.parse("application/json");
        java.util.TreeSet<String> seen = new java.util.TreeSet<>();
        for (int i = 0; i < n; i++) {
            String t = tag + "-" + i;
            Request.Builder b = new Request.Builder().url(url + "?tag=" + t).header("X-Canary", "hdr-" + t);
            if (i % 3 == 0) {
                b.post(RequestBody.create(json, "{\"canary\":\"body-" + t + "\"}"));
            } else if (i % 3 == 2) {
                b.post(RequestBody.create(json, new byte[0]));
            }
            try (Response resp = c.newCall(b.build()).execute()) {
                resp.body().bytes();
                seen.add(resp.code() + " " + resp.protocol());
            }
        }
        c.connectionPool().evictAll();
        return String.join(";", seen);
    }

    /** okrefuse URL TAG: a POST whose body refuses its first writeTo() (the agent's copy) and
     *  writes on the next (OkHttp's): the app's request must go through untouched. */
    static String okrefuse(String url, String tag) throws Exception {
        OkHttpClient c = client(false);
        byte[] content = ("refused-once-" + tag).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        RequestBody body = new RequestBody() {
            int writes = 0;

            @Override public MediaType contentType() {
                return MediaType.parse("text/plain");
            }

            @Override public long contentLength() {
                return content.length;
            }

            @Override public void writeTo(okio.BufferedSink sink) throws java.io.IOException {
                if (writes++ == 0) {
                    throw new java.io.IOException("first write refused");
                }
                sink.write(content);
            }
        };
        Request r = new Request.Builder().url(url + "?tag=" + tag).post(body).build();
        try (Response resp = c.newCall(r).execute()) {
            resp.body().bytes();
            c.connectionPool().evictAll();
            return resp.code() + " writes=" + ((Object) body).getClass().getDeclaredField("writes").getInt(body);
        }
    }

    /** okasync URL TAG: one call through Call.enqueue, answered on OkHttp's dispatcher thread. */
    static String okasync(String url, String tag) throws Exception {
        OkHttpClient c = client(false);
        Request r = new Request.Builder().url(url + "?tag=" + tag).header("X-Canary", "hdr-" + tag)
            .put(RequestBody.create(MediaType.parse("text/plain"), "async-" + tag)).build();
        java.util.concurrent.CompletableFuture<String> done = new java.util.concurrent.CompletableFuture<>();
        c.newCall(r).enqueue(new okhttp3.Callback() {
            @Override public void onFailure(okhttp3.Call call, java.io.IOException e) {
                done.completeExceptionally(e);
            }

            @Override public void onResponse(okhttp3.Call call, Response resp) throws java.io.IOException {
                try (resp) {
                    resp.body().bytes();
                    done.complete(Integer.toString(resp.code()));
                }
            }
        });
        String code = done.get(30, TimeUnit.SECONDS);
        c.dispatcher().executorService().shutdown();
        c.connectionPool().evictAll();
        return code;
    }

    static String cipher(String url, String canary) throws Exception {
        byte[] key = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
        byte[] iv = "fedcba9876543210".getBytes(StandardCharsets.US_ASCII);
        Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
        c.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
        byte[] head = c.update(("{\"events\":[{\"url\":\"https://canary.example/").getBytes(StandardCharsets.UTF_8));
        byte[] tail = c.doFinal((canary + "\"}]}").getBytes(StandardCharsets.UTF_8));
        byte[] ct = new byte[(head == null ? 0 : head.length) + tail.length];
        if (head != null) {
            System.arraycopy(head, 0, ct, 0, head.length);
        }
        System.arraycopy(tail, 0, ct, ct.length - tail.length, tail.length);
        String body = java.util.Base64.getEncoder().encodeToString(ct);
        OkHttpClient cl = client(false);
        Request r = new Request.Builder().url(url)
            .post(RequestBody.create(MediaType.parse("text/plain"), body)).build();
        try (Response resp = cl.newCall(r).execute()) {
            resp.body().bytes();
            cl.connectionPool().evictAll();
            return Integer.toString(resp.code());
        }
    }

    /** cipherbad: decrypts 16 bytes that are no AES/CBC/PKCS5Padding ciphertext of this key
     *  through doFinal(byte[], int, int, byte[], int), the int-returning overload the agent
     *  calls through raw JNI: the app must get the provider's BadPaddingException. */
    static String cipherBad() throws Exception {
        byte[] key = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
        Cipher c = Cipher.getInstance("AES/CBC/PKCS5Padding");
        c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(key, "AES"), new IvParameterSpec(new byte[16]));
        byte[] out = new byte[32];
        try {
            return "decrypted " + c.doFinal(new byte[16], 0, 16, out, 0);
        } catch (javax.crypto.BadPaddingException e) {
            return "caught " + e.getClass().getName();
        }
    }

    static String huc(String url, boolean stream) throws Exception {
        HttpURLConnection c = (HttpURLConnection) new URL(url).openConnection();
        byte[] body = ("field=huc-" + (stream ? "stream" : "buffered")).getBytes(StandardCharsets.UTF_8);
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("X-Canary", "huc-header");
        if (stream) {
            c.setFixedLengthStreamingMode(body.length);
        }
        try (OutputStream out = c.getOutputStream()) {
            out.write(body);
        }
        int code = c.getResponseCode();
        try (InputStream is = c.getInputStream()) {
            is.readAllBytes();
        }
        c.disconnect();
        return Integer.toString(code);
    }

    static String jsse(String host, int port, String payload) throws Exception {
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        try (SSLSocket s = (SSLSocket) f.createSocket(host, port)) {
            byte[] req = ("POST /raw HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + payload.length()
                + "\r\nConnection: close\r\n\r\n" + payload).getBytes(StandardCharsets.UTF_8);
            s.getOutputStream().write(req, 0, 10);
            s.getOutputStream().write(req, 10, req.length - 10);
            s.getOutputStream().flush();
            byte[] resp = s.getInputStream().readAllBytes();
            return Integer.toString(resp.length);
        }
    }

    /** jssetimeout HOST PORT PAYLOAD: a read before the request times out (the hooked read's
     *  original throws SocketTimeoutException, which the app must get), then the request is
     *  sent and the answer read on the same streams. */
    static String jsseTimeout(String host, int port, String payload) throws Exception {
        SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
        try (SSLSocket s = (SSLSocket) f.createSocket(host, port)) {
            s.startHandshake();
            s.setSoTimeout(300);
            String first;
            try {
                first = "read " + s.getInputStream().read(new byte[64], 0, 64);
            } catch (java.net.SocketTimeoutException e) {
                first = "timeout";
            }
            s.setSoTimeout(10000);
            byte[] req = ("POST /raw HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: " + payload.length()
                + "\r\nConnection: close\r\n\r\n" + payload).getBytes(StandardCharsets.UTF_8);
            s.getOutputStream().write(req, 0, req.length);
            s.getOutputStream().flush();
            byte[] resp = s.getInputStream().readAllBytes();
            return first + " " + resp.length;
        }
    }

    /** What the jssehold thread read, once it has. */
    static volatile String held = null;

    /** jssehold HOST PORT: a thread sends GET /hold (the server holds its answer) and blocks
     *  reading it; answers once the thread is in that read. jsseheld: what it read. */
    static String jsseHold(String host, int port) throws Exception {
        java.util.concurrent.CountDownLatch sent = new java.util.concurrent.CountDownLatch(1);
        Thread t = new Thread(() -> {
            try {
                SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
                try (SSLSocket s = (SSLSocket) f.createSocket(host, port)) {
                    s.startHandshake();
                    byte[] req = ("GET /hold HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                        .getBytes(StandardCharsets.UTF_8);
                    s.getOutputStream().write(req, 0, req.length);
                    s.getOutputStream().flush();
                    sent.countDown();
                    held = "read " + s.getInputStream().readAllBytes().length;
                }
            } catch (Exception e) {
                held = "error " + e;
                sent.countDown();
            }
        }, "held-reader");
        t.setDaemon(true);
        t.start();
        sent.await(10, TimeUnit.SECONDS);
        Thread.sleep(300);
        return held == null ? "holding" : held;
    }

    static String jsseHeld() throws Exception {
        for (int i = 0; i < 300 && held == null; i++) {
            Thread.sleep(100);
        }
        return held == null ? "none" : held;
    }

    /** Connections the jssechurn threads completed, and their first error. */
    static final java.util.concurrent.atomic.AtomicInteger churned = new java.util.concurrent.atomic.AtomicInteger();
    static volatile String churnError = null;
    static volatile boolean churning = false;

    /** jssechurn HOST PORT THREADS: threads that connect, write, read and close JSSE sockets
     *  back to back (every call a hooked one) until jssechurned, which stops them and says
     *  how many connections they completed (or their first error). */
    static String jsseChurn(String host, int port, int threads) throws Exception {
        churning = true;
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                SSLSocketFactory f = (SSLSocketFactory) SSLSocketFactory.getDefault();
                byte[] req = ("POST /raw HTTP/1.1\r\nHost: " + host + "\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                    + "churn").getBytes(StandardCharsets.UTF_8);
                while (churning) {
                    try (SSLSocket s = (SSLSocket) f.createSocket(host, port)) {
                        s.getOutputStream().write(req, 0, req.length);
                        s.getOutputStream().flush();
                        s.getInputStream().readAllBytes();
                        churned.incrementAndGet();
                    } catch (Exception e) {
                        if (churnError == null) {
                            churnError = e.toString();
                        }
                    }
                }
            }, "churn-" + i);
            t.setDaemon(true);
            t.start();
        }
        return "churning";
    }

    static String jsseChurned() throws Exception {
        churning = false;
        Thread.sleep(200);
        return churnError == null ? Integer.toString(churned.get()) : "error " + churnError;
    }

    static String httpclient(String url) throws Exception {
        HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpRequest r = HttpRequest.newBuilder(java.net.URI.create(url))
            .header("X-Canary", "httpclient")
            .POST(HttpRequest.BodyPublishers.ofString("from=httpclient")).build();
        HttpResponse<String> resp = c.send(r, HttpResponse.BodyHandlers.ofString());
        return Integer.toString(resp.statusCode());
    }

    /** bench URL N [WARM] [BODY]: WARM untimed then N timed OkHttp POSTs (BODY bytes each) on
     *  one keep-alive connection; answers the nanoseconds of the N. */
    static String bench(String url, int n, int warm, int bodyBytes) throws Exception {
        OkHttpClient c = client(false);
        byte[] body = new byte[bodyBytes];
        java.util.Arrays.fill(body, (byte) 'x');
        MediaType type = MediaType.parse("application/octet-stream");
        long t0 = 0;
        for (int i = 0; i < warm + n; i++) {
            if (i == warm) {
                t0 = System.nanoTime();
            }
            Request r = new Request.Builder().url(url + "?i=" + i)
                .post(RequestBody.create(type, body)).build();
            try (Response resp = c.newCall(r).execute()) {
                resp.body().bytes();
            }
        }
        long ns = System.nanoTime() - t0;
        c.connectionPool().evictAll();
        return Long.toString(ns);
    }
}

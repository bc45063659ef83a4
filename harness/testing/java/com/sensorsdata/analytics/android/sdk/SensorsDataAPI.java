package com.sensorsdata.analytics.android.sdk;

import android.content.Context;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.json.JSONArray;
import org.json.JSONObject;

/** Stand-in for Sensors Analytics' SensorsDataAPI: real entry-point signatures; flush() sends
 *  the queued events the way the real SDK does: form field data_list=base64(gzip(JSON)),
 *  gzip=1, POSTed with HttpURLConnection. */
public class SensorsDataAPI {
    private static SensorsDataAPI instance;
    private final String serverUrl;
    private final List<JSONObject> queue = new ArrayList<>();
    private final JSONObject superProperties = new JSONObject();
    private String distinctId = "anonymous";
    private String loginId;

    SensorsDataAPI(String serverUrl) { this.serverUrl = serverUrl; }

    public static synchronized SensorsDataAPI sharedInstance(Context context, String serverURL) {
        instance = new SensorsDataAPI(serverURL);
        return instance;
    }

    public static synchronized SensorsDataAPI sharedInstance() { return instance; }

    public void track(String eventName) { track(eventName, null); }

    public void track(String eventName, JSONObject properties) { enqueue("track", eventName, properties); }

    public void trackInstallation(String eventName) { trackInstallation(eventName, null); }

    public void trackInstallation(String eventName, JSONObject properties) {
        trackInstallation(eventName, properties, false);
    }

    public void trackInstallation(String eventName, JSONObject properties, boolean disableCallback) {
        enqueue("track_signup", eventName, properties);
    }

    public void trackViewScreen(String url, JSONObject properties) {
        enqueue("track", "$AppViewScreen", properties);
    }

    public void login(String loginId) { login(loginId, null); }

    public void login(String loginId, JSONObject properties) {
        this.loginId = loginId;
        enqueue("track_signup", "$SignUp", properties);
    }

    public void identify(String distinctId) { this.distinctId = distinctId; }

    public void profileSet(JSONObject properties) { enqueue("profile_set", null, properties); }

    public void profileSet(String property, Object value) {
        try {
            enqueue("profile_set", null, new JSONObject().put(property, value));
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    public void registerSuperProperties(JSONObject superProperties) {
        try {
            for (Iterator<String> it = superProperties.keys(); it.hasNext();) {
                String k = it.next();
                this.superProperties.put(k, superProperties.get(k));
            }
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    private synchronized void enqueue(String type, String event, JSONObject properties) {
        try {
            JSONObject e = new JSONObject();
            e.put("type", type);
            if (event != null) {
                e.put("event", event);
            }
            e.put("distinct_id", loginId != null ? loginId : distinctId);
            JSONObject p = new JSONObject(superProperties.toString());
            if (properties != null) {
                for (Iterator<String> it = properties.keys(); it.hasNext();) {
                    String k = it.next();
                    p.put(k, properties.get(k));
                }
            }
            e.put("properties", p);
            queue.add(e);
        } catch (Exception ex) {
            throw new RuntimeException(ex);
        }
    }

    /** Sends the queue; returns the HTTP status. */
    public synchronized int flush() throws Exception {
        JSONArray list = new JSONArray();
        for (JSONObject e : queue) {
            list.put(e);
        }
        queue.clear();
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(bos)) {
            gz.write(list.toString().getBytes(StandardCharsets.UTF_8));
        }
        String data = android.util.Base64.encodeToString(bos.toByteArray(), android.util.Base64.DEFAULT);
        byte[] form = ("crc=0&gzip=1&data_list=" + URLEncoder.encode(data, "UTF-8"))
            .getBytes(StandardCharsets.UTF_8);
        HttpURLConnection c = (HttpURLConnection) new URL(serverUrl).openConnection();
        c.setRequestMethod("POST");
        c.setDoOutput(true);
        c.setRequestProperty("Content-Type", "application/x-www-form-urlencoded");
        try (OutputStream out = c.getOutputStream()) {
            out.write(form);
        }
        int code = c.getResponseCode();
        c.getInputStream().readAllBytes();
        c.getInputStream().close();
        return code;
    }
}

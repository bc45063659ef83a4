package android.webkit;

import android.content.Context;
import android.net.Uri;
import java.util.Collections;
import java.util.Map;

/** Stand-in for android.webkit.WebView: real method names and signatures; a "load" runs the
 *  client callbacks in the order Chromium does (started, intercept, finished). */
public class WebView {
    private WebViewClient client = new WebViewClient();

    public WebView(Context context) {}

    public void setWebViewClient(WebViewClient client) { this.client = client; }

    public void loadUrl(String url) { loadUrl(url, Collections.<String, String>emptyMap()); }

    public void loadUrl(final String url, final Map<String, String> additionalHttpHeaders) {
        load(url, "GET");
    }

    public void postUrl(String url, byte[] postData) { load(url, "POST"); }

    public void loadData(String data, String mimeType, String encoding) { load("data:" + mimeType, "GET"); }

    public void loadDataWithBaseURL(String baseUrl, String data, String mimeType, String encoding,
                                    String historyUrl) {
        load(baseUrl, "GET");
    }

    public void evaluateJavascript(String script, ValueCallback<String> resultCallback) {
        if (resultCallback != null) {
            resultCallback.onReceiveValue("null");
        }
    }

    private void load(final String url, final String method) {
        client.onPageStarted(this, url, null);
        client.shouldInterceptRequest(this, new WebResourceRequest() {
            public Uri getUrl() { return Uri.parse(url); }
            public boolean isForMainFrame() { return true; }
            public boolean hasGesture() { return false; }
            public String getMethod() { return method; }
            public Map<String, String> getRequestHeaders() { return Collections.emptyMap(); }
        });
        client.onPageFinished(this, url);
    }
}

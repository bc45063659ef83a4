package android.webkit;

public class WebResourceResponse {
    public WebResourceResponse(String mimeType, String encoding, java.io.InputStream data) {}
}

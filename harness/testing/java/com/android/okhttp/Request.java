package com.android.okhttp;

/** Stand-in for com.android.okhttp.Request: urlString(), method(), headers(). */
public final class Request {
    private final String url;
    private final String method;
    private final Headers headers;

    public Request(String url, String method, Headers headers) {
        this.url = url;
        this.method = method;
        this.headers = headers;
    }

    public String urlString() { return url; }
    public String method() { return method; }
    public Headers headers() { return headers; }
}

package com.android.okhttp;

/** Stand-in for com.android.okhttp.Response: code(), protocol(), headers(). */
public final class Response {
    private final int code;
    private final Headers headers;

    public Response(int code, Headers headers) {
        this.code = code;
        this.headers = headers;
    }

    public int code() { return code; }
    public Protocol protocol() { return Protocol.HTTP_1_1; }
    public Headers headers() { return headers; }
}

package org.chromium.net.impl;

import android.util.Pair;
import java.util.ArrayList;
import java.util.concurrent.Executor;
import org.chromium.net.UploadDataProvider;
import org.chromium.net.UrlRequest;

/** Stand-in for Cronet's UrlRequestBuilderImpl: the same private field names the hook reads. */
public class UrlRequestBuilderImpl extends UrlRequest.Builder {
    private final String mUrl;
    private String mMethod;
    private final ArrayList<Pair<String, String>> mRequestHeaders = new ArrayList<>();
    private UploadDataProvider mUploadDataProvider;

    public UrlRequestBuilderImpl(String url, UrlRequest.Callback callback, Executor executor) {
        mUrl = url;
    }

    @Override public UrlRequest.Builder setHttpMethod(String method) { mMethod = method; return this; }

    @Override public UrlRequest.Builder addHeader(String header, String value) {
        mRequestHeaders.add(Pair.create(header, value));
        return this;
    }

    @Override public UrlRequest.Builder setUploadDataProvider(UploadDataProvider p, Executor e) {
        mUploadDataProvider = p;
        return this;
    }

    @Override public UrlRequest build() {
        return new UrlRequest() {
            @Override public void start() {}
        };
    }
}

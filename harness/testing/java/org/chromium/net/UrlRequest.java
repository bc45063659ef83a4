package org.chromium.net;

import java.util.concurrent.Executor;

/** Stand-in for Cronet's UrlRequest, its Builder and Callback. */
public abstract class UrlRequest {
    public abstract void start();

    public abstract static class Builder {
        public abstract Builder setHttpMethod(String method);
        public abstract Builder addHeader(String header, String value);
        public abstract Builder setUploadDataProvider(UploadDataProvider provider, Executor executor);
        public abstract UrlRequest build();
    }

    public abstract static class Callback {
        public abstract void onSucceeded(UrlRequest request, Object info);
    }
}

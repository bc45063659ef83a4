package org.chromium.net;

import android.content.Context;
import java.util.concurrent.Executor;
import org.chromium.net.impl.UrlRequestBuilderImpl;

/** Stand-in for Cronet's CronetEngine and its Builder (real names and signatures). */
public abstract class CronetEngine {
    public abstract UrlRequest.Builder newUrlRequestBuilder(String url, UrlRequest.Callback callback,
                                                            Executor executor);

    /** Not in the real API: lets a test see what the builder was left with. */
    public boolean quicEnabledForTesting;

    public static class Builder {
        private boolean quic = true;

        public Builder(Context context) {}

        public Builder enableQuic(boolean value) {
            quic = value;
            return this;
        }

        public Builder enableHttp2(boolean value) { return this; }

        public Builder setUserAgent(String userAgent) { return this; }

        public CronetEngine build() {
            final boolean q = quic;
            CronetEngine e = new CronetEngine() {
                @Override
                public UrlRequest.Builder newUrlRequestBuilder(String url, UrlRequest.Callback cb,
                                                               Executor executor) {
                    return new UrlRequestBuilderImpl(url, cb, executor);
                }
            };
            e.quicEnabledForTesting = q;
            return e;
        }
    }
}

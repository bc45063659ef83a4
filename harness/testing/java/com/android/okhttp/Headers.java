package com.android.okhttp;

import java.util.ArrayList;
import java.util.List;

/** Stand-in for Android's bundled OkHttp 2 Headers: size(), name(i), value(i). */
public final class Headers {
    private final List<String> pairs;

    Headers(List<String> pairs) { this.pairs = pairs; }

    public int size() { return pairs.size() / 2; }
    public String name(int i) { return pairs.get(2 * i); }
    public String value(int i) { return pairs.get(2 * i + 1); }

    public static final class Builder {
        private final List<String> pairs = new ArrayList<>();

        public Builder add(String name, String value) {
            pairs.add(name);
            pairs.add(value);
            return this;
        }

        public Headers build() { return new Headers(new ArrayList<>(pairs)); }
    }
}

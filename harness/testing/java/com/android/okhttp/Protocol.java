package com.android.okhttp;

/** Stand-in for com.android.okhttp.Protocol: toString() is the ALPN name. */
public enum Protocol {
    HTTP_1_1("http/1.1");

    private final String name;

    Protocol(String name) { this.name = name; }

    @Override public String toString() { return name; }
}

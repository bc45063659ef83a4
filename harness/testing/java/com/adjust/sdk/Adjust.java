package com.adjust.sdk;

/** Stand-in for Adjust's static entry points. */
public class Adjust {
    public static void trackEvent(AdjustEvent event) {}
    public static void addSessionCallbackParameter(String key, String value) {}
    public static void addSessionPartnerParameter(String key, String value) {}
}

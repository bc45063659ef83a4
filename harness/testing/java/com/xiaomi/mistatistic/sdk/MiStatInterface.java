package com.xiaomi.mistatistic.sdk;

import java.util.Map;

/** Stand-in for Xiaomi MiStatistics' static entry points. */
public abstract class MiStatInterface {
    public static void recordCountEvent(String category, String key) {}
    public static void recordCountEvent(String category, String key, Map<String, String> params) {}
    public static void recordCalculateEvent(String category, String key, long value) {}
    public static void recordCalculateEvent(String category, String key, long value, Map<String, String> params) {}
    public static void recordStringPropertyEvent(String category, String key, String value) {}
    public static void recordNumericPropertyEvent(String category, String key, long value) {}
}

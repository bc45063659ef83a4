package com.umeng.analytics;

import android.content.Context;
import java.util.Map;

/** Stand-in for Umeng's MobclickAgent static entry points. */
public class MobclickAgent {
    public static void onEvent(Context context, String eventId) {}
    public static void onEvent(Context context, String eventId, String label) {}
    public static void onEvent(Context context, String eventId, Map<String, String> map) {}
    public static void onEventObject(Context context, String eventId, Map<String, Object> map) {}
    public static void onProfileSignIn(String puid) {}
    public static void onProfileSignIn(String provider, String puid) {}
}

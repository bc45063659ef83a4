package com.xiaomi.onetrack;

import java.util.Map;

/** Stand-in for Xiaomi OneTrack's entry points (instance API, as in the real SDK). */
public class OneTrack {
    public enum UserIdType { XIAOMI, PHONE_NUMBER, OTHER }

    public static OneTrack createInstance(android.content.Context context, Object configuration) {
        return new OneTrack();
    }

    public void track(String eventName, Map<String, Object> params) {}
    public void login(String userId, UserIdType type, Map<String, Object> params, boolean isAuto) {}
    public void setUserProfile(String key, Object value) {}
    public void setUserProfile(Map<String, Object> params) {}
    public void setCommonProperty(Map<String, Object> params) {}
}

package com.appsflyer;

import android.content.Context;
import java.util.Map;

/** Stand-in for AppsFlyerLib's entry points. */
public class AppsFlyerLib {
    private static final AppsFlyerLib INSTANCE = new AppsFlyerLib();

    public static AppsFlyerLib getInstance() { return INSTANCE; }

    public void logEvent(Context context, String eventName, Map<String, Object> eventValues) {}
    public void setCustomerUserId(String id) {}
}

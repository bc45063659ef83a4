package com.google.firebase.analytics;

import android.content.Context;
import android.os.Bundle;

/** Stand-in for FirebaseAnalytics' entry points. */
public final class FirebaseAnalytics {
    private static final FirebaseAnalytics INSTANCE = new FirebaseAnalytics();

    public static FirebaseAnalytics getInstance(Context context) { return INSTANCE; }

    public void logEvent(String name, Bundle params) {}
    public void setUserId(String id) {}
    public void setUserProperty(String name, String value) {}
    public void setDefaultEventParameters(Bundle parameters) {}
}

package com.facebook.appevents;

import android.content.Context;
import android.os.Bundle;
import java.math.BigDecimal;
import java.util.Currency;

/** Stand-in for Facebook's AppEventsLogger entry points. */
public class AppEventsLogger {
    public static AppEventsLogger newLogger(Context context) { return new AppEventsLogger(); }

    public void logEvent(String eventName) {}
    public void logEvent(String eventName, double valueToSum) {}
    public void logEvent(String eventName, Bundle parameters) {}
    public void logEvent(String eventName, double valueToSum, Bundle parameters) {}
    public void logPurchase(BigDecimal purchaseAmount, Currency currency, Bundle parameters) {}
    public static void setUserID(String userID) {}
}

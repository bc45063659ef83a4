package com.adjust.sdk;

import java.util.LinkedHashMap;
import java.util.Map;

/** Stand-in for Adjust's AdjustEvent: the same field names the hook reads. */
public class AdjustEvent {
    String eventToken;
    Double revenue;
    String currency;
    Map<String, String> callbackParameters;
    Map<String, String> partnerParameters;

    public AdjustEvent(String eventToken) { this.eventToken = eventToken; }

    public void setRevenue(double revenue, String currency) {
        this.revenue = revenue;
        this.currency = currency;
    }

    public void addCallbackParameter(String key, String value) {
        if (callbackParameters == null) {
            callbackParameters = new LinkedHashMap<>();
        }
        callbackParameters.put(key, value);
    }

    public void addPartnerParameter(String key, String value) {
        if (partnerParameters == null) {
            partnerParameters = new LinkedHashMap<>();
        }
        partnerParameters.put(key, value);
    }
}

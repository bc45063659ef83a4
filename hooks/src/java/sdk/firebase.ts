// Firebase Analytics (com.google.firebase.analytics.FirebaseAnalytics).

import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "firebase", pkg: "com.google.firebase.analytics" };

export const firebaseTable = sdkTable(spec, `${spec.pkg}.FirebaseAnalytics`, {
    logEvent: named("event", "properties"),
    setUserId: named("user_id"),
    setUserProperty: named("name", "value"),
    setDefaultEventParameters: named("properties"),
});

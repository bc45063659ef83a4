// Facebook App Events (com.facebook.appevents.AppEventsLogger).

import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "facebook", pkg: "com.facebook.appevents" };

export const facebookTable = sdkTable(spec, `${spec.pkg}.AppEventsLogger`, {
    logEvent: (a, c) => (a.length === 3
        ? named("event", "value_to_sum", "properties")(a, c)
        : typeof a[1] === "number" ? named("event", "value_to_sum")(a, c) : named("event", "properties")(a, c)),
    logPurchase: named("amount", "currency", "properties"),
    setUserID: named("user_id"),
});

// AppsFlyer attribution SDK (com.appsflyer.AppsFlyerLib).

import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "appsflyer", pkg: "com.appsflyer" };

export const appsflyerTable = sdkTable(spec, `${spec.pkg}.AppsFlyerLib`, {
    logEvent: named(null, "event", "properties"),
    trackEvent: named(null, "event", "properties"),
    setCustomerUserId: named("customer_user_id"),
});

// Sensors Analytics (神策), used by Xiaomi's browsers in 2020: SensorsDataAPI entry points.

import { toJson } from "../convert.js";
import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "sensors", pkg: "com.sensorsdata.analytics.android.sdk" };

export const sensorsTable = sdkTable(spec, `${spec.pkg}.SensorsDataAPI`, {
    track: named("event", "properties"),
    trackInstallation: named("event", "properties", "disableCallback"),
    trackViewScreen: named("url", "properties"),
    login: named("login_id", "properties"),
    identify: named("distinct_id"),
    profileSet: (a) => (a.length === 1
        ? { event: null, properties: toJson(a[0]) }
        : { event: null, properties: { [String(a[0])]: toJson(a[1]) } }),
    registerSuperProperties: named("properties"),
});

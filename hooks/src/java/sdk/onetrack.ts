// Xiaomi OneTrack (com.xiaomi.onetrack), Xiaomi's own analytics SDK.

import { toJson } from "../convert.js";
import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "onetrack", pkg: "com.xiaomi.onetrack" };

export const onetrackTable = sdkTable(spec, `${spec.pkg}.OneTrack`, {
    track: named("event", "properties"),
    login: named("user_id", "user_id_type", "properties", "is_auto"),
    setUserProfile: (a) => (a.length === 1
        ? { event: null, properties: toJson(a[0]) }
        : { event: null, properties: { [String(a[0])]: toJson(a[1]) } }),
    setCommonProperty: named("properties"),
});

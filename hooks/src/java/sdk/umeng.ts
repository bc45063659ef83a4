// Umeng (友盟) analytics: MobclickAgent's static entry points; the first argument is the
// Android Context and carries nothing worth recording.

import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "umeng", pkg: "com.umeng.analytics" };

export const umengTable = sdkTable(spec, `${spec.pkg}.MobclickAgent`, {
    onEvent: (a, c) => named(null, "event",
        a.length === 3 && typeof a[2] === "string" ? "label" : "properties", "value")(a, c),
    onEventObject: named(null, "event", "properties"),
    onProfileSignIn: (a, c) => (a.length === 1 ? named("puid")(a, c) : named("provider", "puid")(a, c)),
});

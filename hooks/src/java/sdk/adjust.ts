// Adjust attribution SDK (com.adjust.sdk.Adjust): events are AdjustEvent objects whose
// token names the event and whose parameter maps are the properties.

import Java from "frida-java-bridge";

import { toJson } from "../convert.js";
import { named, sdkTable } from "./sdk.js";

const spec = { sdk: "adjust", pkg: "com.adjust.sdk" };

export const adjustTable = sdkTable(spec, `${spec.pkg}.Adjust`, {
    trackEvent: (a) => {
        const ev = Java.cast(a[0], Java.use(`${spec.pkg}.AdjustEvent`));
        const field = (name: string): ReturnType<typeof toJson> => {
            try {
                return toJson(ev[name].value);
            } catch {
                return null;
            }
        };
        return {
            event: String(ev.eventToken.value),
            properties: {
                callbackParameters: field("callbackParameters"),
                partnerParameters: field("partnerParameters"),
                revenue: field("revenue"),
                currency: field("currency"),
            },
        };
    },
    addSessionCallbackParameter: named("key", "value"),
    addSessionPartnerParameter: named("key", "value"),
});

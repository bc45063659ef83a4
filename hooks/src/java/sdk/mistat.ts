// Xiaomi MiStatistics (com.xiaomi.mistatistic.sdk), the older Xiaomi analytics SDK.
// Events are named "<category>:<key>".

import { toJson } from "../convert.js";
import { HookCall } from "../table.js";
import { Mapper, sdkTable } from "./sdk.js";

const spec = { sdk: "mistat", pkg: "com.xiaomi.mistatistic.sdk" };

function categoryKey(...rest: string[]): Mapper {
    return (a: any[], _c: HookCall) => {
        const props: { [k: string]: ReturnType<typeof toJson> } = {};
        rest.forEach((name, i) => {
            if (i + 2 < a.length) {
                props[name] = toJson(a[i + 2]);
            }
        });
        const last = props.params;
        if (last !== undefined && last !== null && typeof last === "object" && !Array.isArray(last)) {
            delete props.params;
            Object.assign(props, last);
        }
        return { event: `${a[0]}:${a[1]}`, properties: props };
    };
}

export const mistatTable = sdkTable(spec, `${spec.pkg}.MiStatInterface`, {
    recordCountEvent: categoryKey("params"),
    recordCalculateEvent: categoryKey("value", "params"),
    recordStringPropertyEvent: categoryKey("value"),
    recordNumericPropertyEvent: categoryKey("value"),
});

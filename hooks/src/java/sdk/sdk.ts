// The shape of an analytics SDK table: each entry point becomes an `sdk` record with the
// SDK's name, the method, the event name and the properties as JSON (JSONObject, Map and
// Bundle converted), attributed to the app frames that called the SDK.

import { emit } from "../../emit.js";
import { RecordKind } from "../../protocol.js";
import { toJson } from "../convert.js";
import { addSender, attribute } from "../frames.js";
import { HookCall, JavaHook } from "../table.js";

type Json = ReturnType<typeof toJson>;

export interface SdkEvent {
    event: string | null;
    properties: Json;
}

/** Turns one call's arguments into its event and properties. */
export type Mapper = (args: any[], call: HookCall) => SdkEvent;

export interface SdkSpec {
    /** Short SDK name carried by records, e.g. `sensors`. */
    sdk: string;
    /** The SDK's package: the sender of its events, skipped when attributing frames. */
    pkg: string;
}

/** Names the arguments by position: `event` becomes the event name; a single argument named
 *  `properties` becomes the properties; anything else becomes a named property. */
export function named(...names: (string | null)[]): Mapper {
    return (args) => {
        let event: string | null = null;
        let props: { [k: string]: Json } = {};
        let whole: Json | undefined;
        args.forEach((a, i) => {
            const name = i < names.length ? names[i] : `arg${i}`;
            if (name === null) {
                return;
            }
            const v = toJson(a);
            if (name === "event") {
                event = v === null ? null : String(v);
            } else if (name === "properties" && v !== null && typeof v === "object" && !Array.isArray(v)) {
                whole = v;
            } else {
                props[name] = v;
            }
        });
        if (whole !== undefined) {
            props = { ...(whole as { [k: string]: Json }), ...props };
        }
        return { event, properties: props };
    };
}

export function sdkTable(spec: SdkSpec, cls: string, methods: { [method: string]: Mapper }): JavaHook[] {
    addSender(`${spec.pkg}.`);
    const group = `java.sdk.${spec.sdk}`;
    return Object.entries(methods).map(([method, map]) => ({
        group,
        name: `${group}.${cls.split(".").slice(-1)[0]}.${method}`,
        cls,
        method,
        library: [`${spec.pkg}.`],
        before(call: HookCall) {
            const { event, properties } = map(call.args, call);
            const a = attribute([`${spec.pkg}.`], spec.pkg);
            emit(RecordKind.SDK, call.hook.name, {
                sdk: spec.sdk, method, event: event ?? method, properties,
                frames: a.frames, sender: a.sender,
            });
        },
    }));
}

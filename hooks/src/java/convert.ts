// Java values to JSON for sdk/page records: org.json.JSONObject/JSONArray (parsed from their
// own serialisation, so nothing is reinterpreted), java.util.Map, android.os.Bundle,
// collections, arrays, boxed primitives. Bounded in depth and size; anything else becomes
// its toString() so a property is never silently dropped.

import Java from "frida-java-bridge";

import { javaBytes } from "./bytes.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const MAX_DEPTH = 8;
const MAX_ITEMS = 2000;
const classes: { [name: string]: any } = {};

function cls(name: string): any {
    if (!(name in classes)) {
        try {
            classes[name] = Java.use(name);
        } catch {
            classes[name] = null;
        }
    }
    return classes[name];
}

function isA(obj: any, name: string): boolean {
    const C = cls(name);
    return C !== null && C.class.isInstance(obj);
}

function hex(buf: ArrayBuffer | null): string {
    if (buf === null) {
        return "";
    }
    return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function toJson(v: any, depth = 0): Json {
    if (v === null || v === undefined) {
        return null;
    }
    if (typeof v === "string" || typeof v === "boolean") {
        return v;
    }
    if (typeof v === "number") {
        return Number.isFinite(v) ? v : String(v);
    }
    if (v instanceof Int64 || v instanceof UInt64) {
        const n = Number(v.toString());
        return Number.isSafeInteger(n) ? n : v.toString();
    }
    if (depth > MAX_DEPTH) {
        return "<depth limit>";
    }
    if (Array.isArray(v) || (v.length !== undefined && v.$h === undefined)) {
        return Array.from(v as ArrayLike<any>).slice(0, MAX_ITEMS).map((x) => toJson(x, depth + 1));
    }
    if (v.$h !== undefined && v.$className === undefined && typeof v.length === "number") {
        // A primitive array wrapper (byte[] and friends).
        return { $bytes: hex(javaBytes(v)) };
    }
    try {
        if (isA(v, "org.json.JSONObject") || isA(v, "org.json.JSONArray")) {
            return JSON.parse(v.toString()) as Json;
        }
        if (isA(v, "java.lang.String")) {
            return String(v.toString());
        }
        if (isA(v, "java.lang.Boolean")) {
            return Java.cast(v, cls("java.lang.Boolean")).booleanValue();
        }
        if (isA(v, "java.lang.Number")) {
            const n = Java.cast(v, cls("java.lang.Number"));
            if (isA(v, "java.lang.Long") || isA(v, "java.lang.Integer") || isA(v, "java.lang.Short")
                || isA(v, "java.lang.Byte")) {
                const s: string = n.toString();
                const i = Number(s);
                return Number.isSafeInteger(i) ? i : s;
            }
            return n.doubleValue();
        }
        if (isA(v, "java.util.Map")) {
            const out: { [k: string]: Json } = {};
            const it = Java.cast(v, cls("java.util.Map")).entrySet().iterator();
            const Entry = cls("java.util.Map$Entry");
            for (let i = 0; it.hasNext() && i < MAX_ITEMS; i++) {
                const e = Java.cast(it.next(), Entry);
                const k = e.getKey();
                out[k === null ? "null" : String(k.toString())] = toJson(e.getValue(), depth + 1);
            }
            return out;
        }
        if (isA(v, "android.os.Bundle")) {
            const b = Java.cast(v, cls("android.os.Bundle"));
            const out: { [k: string]: Json } = {};
            const it = b.keySet().iterator();
            for (let i = 0; it.hasNext() && i < MAX_ITEMS; i++) {
                const k = String(it.next().toString());
                out[k] = toJson(b.get(k), depth + 1);
            }
            return out;
        }
        if (isA(v, "java.util.Collection")) {
            const arr = Java.cast(v, cls("java.util.Collection")).toArray();
            return toJson(arr, depth);
        }
        if (isA(v, "[B")) {
            return { $bytes: hex(javaBytes(v)) };
        }
        return String(v.toString());
    } catch (e) {
        return `<unconvertible: ${e}>`;
    }
}

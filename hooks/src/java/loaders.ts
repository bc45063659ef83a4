// Classes that appear after start: an SDK in a plugin, a dex loaded later, a class loader
// other than the app's. Pending table entries are retried with every class loader created
// after start (their constructors are hooked: URLClassLoader on a JVM,
// BaseDexClassLoader on Android) and, on a bounded timer, with all loaders seen so far.

import Java from "frida-java-bridge";

import { identity } from "./objects.js";
import { JavaHook, pendingCount, retryWith } from "./table.js";

const G = "java.loaders";
const loaders = new Map<number, any>();
let timer: ReturnType<typeof setInterval> | null = null;

function remember(loader: any): boolean {
    if (loader === null) {
        return false;
    }
    const id = identity(loader);
    if (loaders.has(id)) {
        return false;
    }
    loaders.set(id, Java.retain(loader));
    return true;
}

/** On HotSpot, frida-java-bridge 7.0.13 hooks installed through a non-default class loader's
 *  factory crash the JVM when the method runs (seen here): late loaders are an ART feature. */
export function lateLoadersSupported(): boolean {
    return (Java as any).api?.flavor !== "jvm";
}

/** Retry pending entries with a new loader from the agent's own thread, right after the
 *  constructor returns: hooking from inside the constructor's thread crashed HotSpot. Calls
 *  the app makes in between (microseconds to milliseconds) are not seen. */
function soon(loader: any): void {
    if (!lateLoadersSupported() || !remember(loader) || pendingCount() === 0) {
        return;
    }
    const held = Java.retain(loader);
    setTimeout(() => {
        Java.perform(() => retryWith(Java.ClassFactory.get(held)));
    }, 0);
}

function retryAll(): void {
    for (const loader of loaders.values()) {
        if (pendingCount() === 0) {
            return;
        }
        retryWith(Java.ClassFactory.get(loader));
    }
}

export const loadersTable: JavaHook[] = [
    {
        // URLClassLoader, not its SecureClassLoader base: the base constructor runs before the
        // loader knows its URLs, so nothing could be found through it yet.
        group: G, name: `${G}.URLClassLoader.init`, cls: "java.net.URLClassLoader",
        method: "$init",
        after(c) {
            soon(c.self);
        },
    },
    {
        group: G, name: `${G}.BaseDexClassLoader.init`, cls: "dalvik.system.BaseDexClassLoader",
        method: "$init",
        after(c) {
            soon(c.self);
        },
    },
];

/** Retry pending entries every periodMs, at most `times` times (0: never). */
export function watchLoaders(periodMs: number, times: number): void {
    if (!lateLoadersSupported()) {
        return;
    }
    try {
        const system = Java.use("java.lang.ClassLoader").getSystemClassLoader();
        remember(system);
    } catch {
        // No system loader reachable (early Android start): constructor hooks still work.
    }
    let left = times;
    if (left <= 0 || timer !== null) {
        return;
    }
    timer = setInterval(() => {
        if (left-- <= 0 || pendingCount() === 0) {
            stopWatching();
            return;
        }
        Java.perform(retryAll);
    }, periodMs);
}

export function stopWatching(): void {
    if (timer !== null) {
        clearInterval(timer);
        timer = null;
    }
}

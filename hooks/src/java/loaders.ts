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

/** Keep a global reference to a loader not seen before; null when seen or null. The factory
 *  of a loader keeps using the wrapper it was made with to resolve classes later: it must be
 *  this global one, not a hook's `this` (a local reference, dead once the hook returns). */
function remember(loader: any): any {
    if (loader === null) {
        return null;
    }
    const id = identity(loader);
    if (loaders.has(id)) {
        return null;
    }
    const held = Java.retain(loader);
    loaders.set(id, held);
    return held;
}

/** Retry pending entries with a new loader, on the thread that made it, as its constructor
 *  returns: before the app can load a class through it, so its first call is seen. */
function retryNew(loader: any): void {
    const held = remember(loader);
    if (held !== null && pendingCount() > 0) {
        retryWith(Java.ClassFactory.get(held));
    }
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
            retryNew(c.self);
        },
    },
    {
        group: G, name: `${G}.BaseDexClassLoader.init`, cls: "dalvik.system.BaseDexClassLoader",
        method: "$init",
        after(c) {
            retryNew(c.self);
        },
    },
];

/** Retry pending entries every periodMs, at most `times` times (0: never). */
export function watchLoaders(periodMs: number, times: number): void {
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

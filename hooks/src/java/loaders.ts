// Classes that appear after start: an SDK in a plugin, a dex loaded later, a class loader
// other than the app's. Pending table entries are retried with every class loader created
// after start (their constructors are hooked: URLClassLoader-style loaders on a JVM,
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
        group: G, name: `${G}.SecureClassLoader.init`, cls: "java.security.SecureClassLoader",
        method: "$init",
        after(c) {
            if (remember(c.self) && pendingCount() > 0) {
                retryWith(Java.ClassFactory.get(c.self));
            }
        },
    },
    {
        group: G, name: `${G}.BaseDexClassLoader.init`, cls: "dalvik.system.BaseDexClassLoader",
        method: "$init",
        after(c) {
            if (remember(c.self) && pendingCount() > 0) {
                retryWith(Java.ClassFactory.get(c.self));
            }
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

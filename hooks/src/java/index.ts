// The Java side of the agent: installs every Java hook table (one file per network stack,
// encoder or analytics SDK) when the process runs a Java VM (ART on Android, HotSpot on a
// desktop). Called by the agent's init(config) with config.java set.

import Java from "frida-java-bridge";

import { HookStatus } from "../protocol.js";
import { NO_JAVA_VM, reportHook } from "../registry.js";
import { cipherTable } from "./cipher.js";
import { configureConscrypt, conscryptTable } from "./conscrypt.js";
import { configureCronet, cronetTable } from "./cronet.js";
import { encodersTable } from "./encoders.js";
import { jsseTable } from "./jsse.js";
import { loadersTable, stopWatching, watchLoaders } from "./loaders.js";
import { androidOkhttpTable, okhttpTable } from "./okhttp.js";
import { adjustTable } from "./sdk/adjust.js";
import { appsflyerTable } from "./sdk/appsflyer.js";
import { facebookTable } from "./sdk/facebook.js";
import { firebaseTable } from "./sdk/firebase.js";
import { mistatTable } from "./sdk/mistat.js";
import { onetrackTable } from "./sdk/onetrack.js";
import { sensorsTable } from "./sdk/sensors.js";
import { umengTable } from "./sdk/umeng.js";
import { jsInside, threadsInside } from "./inflight.js";
import { closeHooks, install, JavaHook, revertAll, revertsPending } from "./table.js";
import { urlconnectionTable } from "./urlconnection.js";
import { webviewTable } from "./webview.js";

export interface JavaConfig {
    /** Hook names or group names not to install. */
    exclude: string[];
    /** Native TLS hooks are on: Conscrypt's bytes come from them (linked, not doubled). */
    native: boolean;
    /** Keep Cronet off QUIC (CronetEngine.Builder.enableQuic(false)). */
    blockQuic: boolean;
    /** Retry pending entries with new class loaders every rescanMs, rescanTimes times. */
    rescanMs: number;
    rescanTimes: number;
}

const defaults: JavaConfig = {
    exclude: [], native: true, blockQuic: true, rescanMs: 2000, rescanTimes: 60,
};

/** Every table, in install order: TLS first so connections exist before HTTP records. */
export const javaTables: JavaHook[][] = [
    jsseTable, conscryptTable, okhttpTable, androidOkhttpTable, urlconnectionTable,
    webviewTable, cronetTable, encodersTable, cipherTable,
    sensorsTable, onetrackTable, mistatTable, firebaseTable, umengTable, appsflyerTable,
    adjustTable, facebookTable, loadersTable,
];

export function installJava(config: Partial<JavaConfig> = {}): void {
    const c: JavaConfig = { ...defaults, ...config };
    if (!Java.available) {
        reportHook("java", "java.vm", HookStatus.SKIPPED, "Java VM", NO_JAVA_VM);
        return;
    }
    configureConscrypt(c.native);
    configureCronet(c.blockQuic);
    Java.perform(() => {
        // The bridge keeps 10 class handles and re-resolves evicted ones with JNI FindClass
        // from whatever thread needs them; inside a hooked JDK method (JSSE, HttpClient)
        // FindClass only searches the boot loader and an app class then "disappears". Keep
        // the handles resolved here, from the agent's thread, for the whole session.
        const handles = (Java.classFactory as any)._classHandles;
        if (handles !== undefined && typeof handles.capacity === "number") {
            handles.capacity = Math.max(handles.capacity, 4096);
        }
        for (const table of javaTables) {
            install(table, c.exclude);
        }
        watchLoaders(c.rescanMs, c.rescanTimes);
    });
}

/** The hooked methods put back at dispose (HotSpot), by id; null before, or on ART. */
let putBack: Set<string> | null = null;

/** Install nothing more and, on HotSpot, put every hooked method back (dispose): returns
 *  the threads still inside an entry of ours (javaInflight). */
export function disposeJava(): number {
    stopWatching();
    closeHooks();
    if (putBack === null) {
        Java.vm.perform(() => {
            putBack = revertAll();
        });
    }
    return javaInflight();
}

/** Threads inside an entry of ours (inflight.ts). On HotSpot after dispose: the methods the
 *  bridge has yet to put back (it does on its next tick), then the threads with a
 *  replacement's frame on their stack; otherwise the JS entries' count. */
export function javaInflight(): number {
    if (putBack === null) {
        return jsInside();
    }
    const pending = revertsPending();
    if (pending > 0) {
        return pending;
    }
    return threadsInside(putBack) ?? jsInside();
}

// Installs the native hook tables and keeps watching for libraries loaded later.

import { setNativeSource, setRingCounters } from "../emit.js";
import { HookStatus } from "../protocol.js";
import { reportHook } from "../registry.js";
import { dnsFragment, installDns } from "./dns.js";
import { NativeRing } from "./ring.js";
import { installSockets, socketsFragment } from "./sockets.js";
import { hookTlsModule } from "./tls.js";

export interface NativeConfig {
    maxRecordBytes: number;
    ringBufferBytes: number;
    ringWaitLimitMs: number;
    exclude: string[];
    /** UDP sends to ports 443 and 80 fail (sockets.ts). */
    blockQuic: boolean;
    /** The process is suspended while the hooks install (ring.ts: replaceFast). */
    suspended: boolean;
    /** Child gating is on: no near-jump patches (ring.ts, nearReplace). */
    followChildren: boolean;
}

let ring: NativeRing | null = null;
let maxRecord = 0;
let observer: ModuleObserver | null = null;

export function installNative(config: NativeConfig): void {
    maxRecord = config.maxRecordBytes;
    ring = new NativeRing({
        bufferBytes: config.ringBufferBytes,
        maxRecordBytes: config.maxRecordBytes,
        waitLimitMs: config.ringWaitLimitMs,
        tableSlots: 1 << 16,
        fdSlots: 1 << 16,
        blockQuic: config.blockQuic,
        replaceFast: config.suspended,
        nearJumps: !config.followChildren,
    }, [socketsFragment(), dnsFragment()]);
    const r = ring;
    setNativeSource(() => r.drain());
    setRingCounters(() => r.counters());
    const exclude = new Set(config.exclude);
    installSockets(r, exclude);
    installDns(r, exclude);
    let found = 0;
    for (const m of Process.enumerateModules()) {
        if (hookTlsModule(r, m, exclude)) found++;
    }
    if (found === 0) {
        reportHook("native.tls", "native.tls.libssl", HookStatus.SKIPPED, "process",
            "no loaded module exports SSL_write/SSL_read yet; watching for late loads");
    }
    observer = Process.attachModuleObserver({
        onAdded(m: Module): void {
            hookTlsModule(r, m, exclude);
        },
    });
}

/** The ring, its ring_stream(ring, kind, number, hook, buf, n) and its record size cap (a
 *  longer record is cut), for hooks written in C elsewhere (java/centries.ts,
 *  java/okhttp_entry_c.ts); null without native hooks. */
export function nativeRingStream(): { ring: NativePointer; write: NativePointer; maxRecord: number } | null {
    return ring === null ? null : { ring: ring.ring, write: ring.cm.ring_stream, maxRecord: maxRecord };
}

export function nativeStats(): object | null {
    return ring === null ? null : ring.stats();
}

/** Revert every native hook; returns how many threads are still inside a wrapper (blocked
 * in a hooked read, say): the script must not unload before that is 0 (ring.ts). */
export function disposeNative(): number {
    if (observer !== null) {
        observer.detach();
        observer = null;
    }
    if (ring !== null) {
        ring.revert();
        return ring.inflight();
    }
    return 0;
}

/** Threads inside a native wrapper now. */
export function nativeInflight(): number {
    return ring === null ? 0 : ring.inflight();
}

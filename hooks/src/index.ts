// The agent's entry point: rpc.exports only. Commands come through RPC, facts through
// send() (emit.ts), configuration through init(config); no globals patched into the source.

import { disposeChildren, guardCloseRange, quietInForkedChild, watchReaps } from "./children.js";
import { configureEmit, flush, stopEmit } from "./emit.js";
import { ABI_VERSION, HookStatus } from "./protocol.js";
import { disposeNative, installNative, nativeInflight, nativeStats } from "./native/index.js";
import { setAgentInstance } from "./instance.js";
import { enableProfile, profileReport } from "./profile.js";
import { HookReport, hookReports, NO_JAVA_VM, reportHook } from "./registry.js";

export interface AgentConfig {
    flushIntervalMs: number;
    maxRecordBytes: number;
    /** Make UDP sends to ports 443 and 80 fail so QUIC falls back to TCP. */
    blockQuic: boolean;
    native: boolean;
    java: boolean;
    /** Hook names (or group names) not to install, e.g. for coverage tests. */
    exclude: string[];
    /** Bytes per native buffer (two are allocated). */
    ringBufferBytes: number;
    /** How long a hooked thread waits for the drain when both buffers are full. */
    ringWaitLimitMs: number;
    /** The process is suspended while init() runs (spawned, or a child held by child
     * gating): native hooks may be installed with Interceptor.replaceFast (ring.ts). */
    suspended: boolean;
    /** Children are held by child gating: keep Frida's sockets open across close_range()
     * in a forked child (children.ts). */
    followChildren: boolean;
    /** Time the hooks' parts (profile.ts); status() then reports them. */
    profile: boolean;
    /** This agent's instance in its process: 0 the first loaded into the pid, 1 after an
     * exec... Written into the ids the agent makes (instance.ts). */
    agent: number;
}

const defaults: AgentConfig = {
    flushIntervalMs: 50,
    maxRecordBytes: 1 << 20,
    blockQuic: true,
    native: true,
    java: true,
    exclude: [],
    ringBufferBytes: 8 << 20,
    ringWaitLimitMs: 2000,
    suspended: false,
    followChildren: false,
    profile: false,
    agent: 0,
};

let started = false;

/**
 * A Java VM is loaded: ART or Dalvik on Android, HotSpot's libjvm elsewhere (the modules
 * frida-java-bridge looks for). Only then is the Java side imported: evaluating
 * frida-java-bridge, even unused, made Frida's host detach the parent of a fork in 3-5 of
 * 8 runs (`application-requested`, the child's copy of the parent's session closing late;
 * children.ts), and in 0 of 10 without it (bench/README.md, "children").
 */
function javaVmLoaded(): boolean {
    return Process.enumerateModules().some((m) => /^lib(art|dvm)\.so$|jvm\.(so|dylib|dll)$/.test(m.name));
}

/** The Java side, once installed: puts the methods back, counts threads inside its entries. */
let javaHooks: { dispose: () => number; inflight: () => number } | null = null;

function inflightNow(): number {
    return nativeInflight() + (javaHooks?.inflight() ?? 0);
}

rpc.exports = {
    abiVersion(): number {
        return ABI_VERSION;
    },
    async init(config: Partial<AgentConfig>): Promise<HookReport[]> {
        if (started) {
            return hookReports();
        }
        started = true;
        const c: AgentConfig = { ...defaults, ...config };
        setAgentInstance(c.agent);
        configureEmit({ flushIntervalMs: c.flushIntervalMs, maxRecordBytes: c.maxRecordBytes });
        if (c.profile) {
            enableProfile();
        }
        if (c.followChildren) {
            guardCloseRange();
            watchReaps();
            quietInForkedChild(() => {
                disposeNative();
                disposeChildren();
            });
        }
        if (c.native) {
            installNative(c);
        }
        if (c.java && javaVmLoaded()) {
            const java = await import("./java/index.js");
            java.installJava({ exclude: c.exclude, native: c.native, blockQuic: c.blockQuic });
            javaHooks = { dispose: java.disposeJava, inflight: java.javaInflight };
        } else if (c.java) {
            reportHook("java", "java.vm", HookStatus.SKIPPED, "Java VM", NO_JAVA_VM);
        }
        flush();
        // On HotSpot frida-java-bridge applies method replacements on Script.nextTick, after
        // this call returns: answering only from a later timer tick means every hook init()
        // reports installed is live by the time the caller hears back (a request sent right
        // after init() was otherwise missed now and then).
        await new Promise((resolve) => setTimeout(resolve, 0));
        return hookReports();
    },
    status(): { hooks: HookReport[]; native: object | null; profile: object | null } {
        return { hooks: hookReports(), native: nativeStats(), profile: profileReport() };
    },
    flush(): void {
        flush();
    },
    /** Reverts the native hooks and (HotSpot) puts the hooked Java methods back, installs no
     * more Java ones, and flushes; returns the threads still inside a native wrapper or a
     * Java entry of ours: their return path is code the unload frees, so the controller's
     * teardown polls ``inflight`` (bounded) before it unloads. The Java part is read from the
     * JVM's stacks once the methods are back: read 0 once, it stays 0 (java/inflight.ts).
     * It does not wait here: Frida also calls it
     * when the process exits, and waiting held every exit with a thread blocked in a
     * hooked read for the whole wait (30 s, in a version that did). An unload Frida starts
     * on its own (a detach after a fork, the controller dead) therefore does not wait for
     * them (docs/capture.md). */
    dispose(): { inflight: number } {
        disposeNative();
        disposeChildren();
        javaHooks?.dispose();
        stopEmit();
        return { inflight: inflightNow() };
    },
    inflight(): number {
        return inflightNow();
    },
};

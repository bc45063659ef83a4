// The agent's entry point: rpc.exports only. Commands come through RPC, facts through
// send() (emit.ts), configuration through init(config); no globals patched into the source.

import { configureEmit, flush, stopEmit } from "./emit.js";
import { ABI_VERSION } from "./protocol.js";
import { HookReport, hookReports } from "./registry.js";

export interface AgentConfig {
    flushIntervalMs: number;
    maxRecordBytes: number;
    /** Make UDP sends to ports 443 and 80 fail so QUIC falls back to TCP. */
    blockQuic: boolean;
    native: boolean;
    java: boolean;
    /** Hook names (or group names) not to install, e.g. for coverage tests. */
    exclude: string[];
}

const defaults: AgentConfig = {
    flushIntervalMs: 50,
    maxRecordBytes: 1 << 20,
    blockQuic: true,
    native: true,
    java: true,
    exclude: [],
};

let started = false;

rpc.exports = {
    abiVersion(): number {
        return ABI_VERSION;
    },
    init(config: Partial<AgentConfig>): HookReport[] {
        if (started) {
            return hookReports();
        }
        started = true;
        const c: AgentConfig = { ...defaults, ...config };
        configureEmit({ flushIntervalMs: c.flushIntervalMs, maxRecordBytes: c.maxRecordBytes });
        // Installers are added here by the native (native/index.ts) and java (java/index.ts)
        // tables.
        flush();
        return hookReports();
    },
    status(): HookReport[] {
        return hookReports();
    },
    flush(): void {
        flush();
    },
    dispose(): void {
        stopEmit();
    },
};

// Native TLS plaintext: SSL_write/SSL_read and their _ex variants in every module that
// exports them (OpenSSL 3's libssl, Android's BoringSSL, Conscrypt's and Cronet's copies),
// including modules loaded after the agent started. The hooks themselves are C (ring.ts);
// this file only finds targets and reports coverage.

import { HookStatus, NativeKind } from "../protocol.js";
import { reportHook } from "../registry.js";
import { NativeRing } from "./ring.js";

const GROUP = "native.tls";

interface TlsFunction {
    name: string;
    kind: number;
    ex: boolean;
}

const TABLE: TlsFunction[] = [
    { name: "SSL_write", kind: NativeKind.TLS_OUT, ex: false },
    { name: "SSL_read", kind: NativeKind.TLS_IN, ex: false },
    { name: "SSL_write_ex", kind: NativeKind.TLS_OUT, ex: true },
    { name: "SSL_read_ex", kind: NativeKind.TLS_IN, ex: true },
];

const HELPERS = ["SSL_get_fd", "SSL_get_servername", "SSL_get_version", "SSL_get_current_cipher",
    "SSL_CIPHER_get_name"];

const seen = new Set<string>();
/** Addresses already hooked: a module's lookup also resolves through its dependencies
 * (dlsym semantics), so _ssl.so "exports" libssl's SSL_write; hook each function once. */
const hooked = new Set<string>();

/** The export only if it is defined in this module itself. */
function exported(m: Module, name: string): NativePointer | null {
    const addr = m.findExportByName(name);
    if (addr === null) {
        return null;
    }
    const owner = Process.findModuleByAddress(addr);
    return owner !== null && owner.path === m.path ? addr : null;
}

/** Hook one module if it exports SSL_write or SSL_read; returns true when it did. */
export function hookTlsModule(ring: NativeRing, m: Module, exclude: Set<string>): boolean {
    if (seen.has(m.path)) {
        return false;
    }
    if (exported(m, "SSL_write") === null && exported(m, "SSL_read") === null) {
        return false;
    }
    seen.add(m.path);
    const helpers = HELPERS.map((h) => exported(m, h));
    const target = m.name;
    for (const f of TABLE) {
        const name = `${GROUP}.${f.name}`;
        const addr = exported(m, f.name);
        if (exclude.has(name) || exclude.has(GROUP)) {
            reportHook(GROUP, name, HookStatus.SKIPPED, target, "excluded by configuration");
            continue;
        }
        if (addr === null) {
            reportHook(GROUP, name, HookStatus.SKIPPED, target, `${f.name} not exported by ${target}`);
            continue;
        }
        if (hooked.has(addr.toString())) {
            continue;
        }
        hooked.add(addr.toString());
        try {
            const index = reportHook(GROUP, name, HookStatus.INSTALLED, target);
            ring.replaceTls(addr, index, f.kind, f.ex, helpers);
        } catch (e) {
            reportHook(GROUP, name, HookStatus.FAILED, target, String(e));
        }
    }
    const free = exported(m, "SSL_free");
    if (free !== null && !hooked.has(free.toString())) {
        hooked.add(free.toString());
        ring.replaceTls(free, 0, 0, "free", helpers);
    }
    return true;
}

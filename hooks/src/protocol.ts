// GENERATED from harness/protocol.py by `python -m harness.protocol_ts`. Do not edit.

export const ABI_VERSION = 5;

export const RecordKind = {
    STREAM: "stream",
    CONN: "conn",
    CONNECT: "connect",
    DNS: "dns",
    UDP_BLOCKED: "udp-blocked",
    HOOK: "hook",
    HTTP: "http",
    SDK: "sdk",
    TRANSFORM: "transform",
    PAGE: "page",
    LOG: "log",
    AGENT_ERROR: "agent-error",
    PROCESS: "process",
    CALL_PATH: "call-path",
} as const;
export type RecordKind = typeof RecordKind[keyof typeof RecordKind];

export const Direction = {
    OUT: "out",
    IN: "in",
} as const;
export type Direction = typeof Direction[keyof typeof Direction];

export const Layer = {
    TLS: "tls",
    TCP: "tcp",
    UDP: "udp",
} as const;
export type Layer = typeof Layer[keyof typeof Layer];

export const HookStatus = {
    INSTALLED: "installed",
    SKIPPED: "skipped",
    FAILED: "failed",
} as const;
export type HookStatus = typeof HookStatus[keyof typeof HookStatus];

export const NativeKind = {
    TLS_OUT: 1,
    TLS_IN: 2,
    TCP_OUT: 3,
    TCP_IN: 4,
    UDP_OUT: 5,
    UDP_IN: 6,
    CONN_INFO: 7,
    CONNECT: 8,
    UDP_BLOCKED: 9,
    DNS: 10,
    HTTP_CALL: 11,
} as const;
export type NativeKind = typeof NativeKind[keyof typeof NativeKind];

export const NATIVE_FLAG_TRUNCATED = 1;
export const NATIVE_HEADER_SIZE = 48;
export const NATIVE_ALIGN = 8;
export const CONN_INFO_SIZE = 44;
export const DNS_HEADER_SIZE = 8;
export const DNS_ADDRESS_SIZE = 18;
export const HTTP_CALL_HEADER_SIZE = 32;
export const JAVA_CONN_BASE = 4294967296;

/** How ids made from a pid name it for the agent's instance in that process
 *  (harness.protocol.agent_pid): the pid for the first, `<pid>.<agent>` after. */
export function agentPid(pid: number, agent: number): string {
    return agent === 0 ? `${pid}` : `${pid}.${agent}`;
}

/** The id of a connection in a run (harness.protocol.conn_id). */
export function connId(pid: number, layer: Layer, n: number, agent: number): string {
    return `${agentPid(pid, agent)}:${layer}:${n}`;
}

/** The number of a connection id made by connId. */
export function connNumber(id: string): number {
    return Number(id.slice(id.lastIndexOf(":") + 1));
}
/** struct format (Python struct syntax) of the native header. */
export const NATIVE_HEADER_FORMAT = "<IHHIiQQIIHHI";

/** Kind-specific members of each record kind. */
export const KIND_FIELDS = {
    "stream": ["layer"],
    "conn": ["layer", "fd", "transport", "local_ip", "local_port", "peer_ip", "peer_port", "sni", "tls_version", "cipher", "alpn", "library", "ssl", "peer_host", "java_class", "plaintext"],
    "connect": ["fd", "family", "transport", "peer_ip", "peer_port", "result", "errno"],
    "dns": ["name", "addresses", "result"],
    "udp-blocked": ["peer_ip", "peer_port", "fd"],
    "hook": ["name", "status", "target", "reason", "group", "index"],
    "http": ["stack", "phase", "call", "url", "method", "headers", "status", "protocol", "frames", "sender"],
    "sdk": ["sdk", "method", "event", "properties", "frames", "sender"],
    "transform": ["op", "algorithm", "call", "input", "output", "frames", "sender", "mode", "key_bits"],
    "page": ["api", "method", "url", "frames", "sender"],
    "log": ["level", "message"],
    "agent-error": ["message", "stack", "where"],
    "process": ["event", "child", "status"],
    "call-path": ["key", "frames", "sender"],
} as const;

export type Slice = [number, number];

/** Members every JSON record may carry. */
export interface RecordBase {
    k: RecordKind;
    /** milliseconds since the epoch */
    t: number;
    tid: number | null;
    hook: string;
    conn?: string | null;
    dir?: Direction | null;
    body?: Slice | null;
    olen?: number | null;
    trunc?: boolean;
}

export interface BatchMessage {
    type: "batch";
    abi: number;
    pid: number;
    seq: number;
    records: object[];
    native: Slice | null;
}

// The only caller of send(). Hooks hand facts to emit(); records are batched, carry one
// sequence number per batch, and bodies travel in send()'s binary data argument, never as
// base64 inside JSON. Flushed at least every flushIntervalMs, on flush()/dispose(), and at
// process exit. The native hot path (CModule ring, see native/ring.ts) is drained into the
// same batches through setNativeSource().

import { now, profiling, took } from "./profile.js";
import { ABI_VERSION, Direction, RecordKind, Slice } from "./protocol.js";

export interface EmitConfig {
    flushIntervalMs: number;
    /** Per-record body cap in bytes; longer bodies are cut and marked truncated. */
    maxRecordBytes: number;
    /** Flush early when this many body bytes are pending. */
    maxBatchBytes: number;
}

export interface EmitOptions {
    conn?: string | null;
    dir?: Direction | null;
    tid?: number | null;
    /** The record's body (stream bytes, request body...). */
    body?: ArrayBuffer | null;
    /** Extra binary members (e.g. a transform's input and output), sent as slices. */
    slices?: { [field: string]: ArrayBuffer | null };
}

/** A source of packed native records (the CModule ring); returns null when empty. */
export type NativeSource = () => ArrayBuffer | null;
/** The ring's cumulative loss counters, sent in every batch (harness.protocol.RingStats). */
export type RingCounters = () => { drops: number; droppedBytes: number; waits: number };

const config: EmitConfig = { flushIntervalMs: 50, maxRecordBytes: 1 << 20, maxBatchBytes: 4 << 20 };
let records: object[] = [];
let chunks: ArrayBuffer[] = [];
let pendingBytes = 0;
let seq = 0;
let timer: ReturnType<typeof setInterval> | null = null;
let nativeSource: NativeSource | null = null;
let ringCounters: RingCounters | null = null;
/** Asked before every send(); false drops what is pending and sends nothing (children.ts:
 * the copy of this script a forked child inherits must never use its parent's session). */
let sendGuard: (() => boolean) | null = null;

export function setSendGuard(guard: (() => boolean) | null): void {
    sendGuard = guard;
}

export function configureEmit(c: Partial<EmitConfig>): void {
    Object.assign(config, c);
    if (timer !== null) {
        clearInterval(timer);
    }
    timer = setInterval(flush, config.flushIntervalMs);
}

export function setRingCounters(source: RingCounters | null): void {
    ringCounters = source;
}

export function setNativeSource(source: NativeSource | null): void {
    nativeSource = source;
}

function addChunk(buf: ArrayBuffer, cap: number): [Slice, number, boolean] {
    const orig = buf.byteLength;
    const cut = orig > cap ? buf.slice(0, cap) : buf;
    const off = pendingBytes;
    chunks.push(cut);
    pendingBytes += cut.byteLength;
    return [[off, cut.byteLength], orig, orig > cap];
}

/** Record one fact. Never throws into the hook that called it. */
export function emit(kind: RecordKind, hook: string, fields: object, opts: EmitOptions = {}): void {
    const rec: { [k: string]: unknown } = {
        k: kind,
        t: Date.now(),
        tid: opts.tid ?? safeTid(),
        hook,
        ...fields,
    };
    if (opts.conn != null) rec.conn = opts.conn;
    if (opts.dir != null) rec.dir = opts.dir;
    if (opts.body != null) {
        const [slice, orig, truncated] = addChunk(opts.body, config.maxRecordBytes);
        rec.body = slice;
        rec.olen = orig;
        if (truncated) rec.trunc = true;
    }
    if (opts.slices !== undefined) {
        for (const [name, buf] of Object.entries(opts.slices)) {
            if (buf === null) {
                rec[name] = null;
                continue;
            }
            const [slice, , truncated] = addChunk(buf, config.maxRecordBytes);
            rec[name] = slice;
            if (truncated) rec.trunc = true;
        }
    }
    records.push(rec);
    if (pendingBytes >= config.maxBatchBytes) {
        flush();
    }
}

function safeTid(): number | null {
    try {
        return Process.getCurrentThreadId();
    } catch {
        return null;
    }
}

/** Send everything pending (JS records and the native ring) as one batch. */
export function flush(): void {
    if (!profiling) {
        sendPending();
        return;
    }
    const start = now();
    sendPending();
    took("agent.flush", start);
}

function sendPending(): void {
    if (sendGuard !== null && !sendGuard()) {
        records = [];
        chunks = [];
        pendingBytes = 0;
        return;
    }
    const native = nativeSource !== null ? nativeSource() : null;
    if (records.length === 0 && native === null) {
        return;
    }
    let nativeSlice: Slice | null = null;
    if (native !== null) {
        nativeSlice = [pendingBytes, native.byteLength];
        chunks.push(native);
        pendingBytes += native.byteLength;
    }
    const data = new Uint8Array(pendingBytes);
    let pos = 0;
    for (const c of chunks) {
        data.set(new Uint8Array(c), pos);
        pos += c.byteLength;
    }
    const message = {
        type: "batch",
        abi: ABI_VERSION,
        pid: Process.id,
        seq: seq++,
        records,
        native: nativeSlice,
        // in every batch: a drop shows in run.json even if the process dies before status()
        ring: ringCounters !== null ? ringCounters() : null,
    };
    records = [];
    chunks = [];
    pendingBytes = 0;
    send(message, data.buffer as ArrayBuffer);
}

export function stopEmit(): void {
    if (timer !== null) {
        clearInterval(timer);
        timer = null;
    }
    flush();
}

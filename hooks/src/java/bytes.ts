// Copying Java byte arrays and ByteBuffers into ArrayBuffers for emit(): one JNI
// GetByteArrayRegion per copy instead of one call per element through the bridge.

import Java from "frida-java-bridge";

import { byteArray } from "./jni.js";

function handleOf(arr: any): NativePointer | null {
    if (arr === null || arr === undefined) {
        return null;
    }
    if (arr instanceof NativePointer) {
        return arr.isNull() ? null : arr;
    }
    const h = arr.$h ?? arr.$handle;
    return h instanceof NativePointer ? h : null;
}

export function arrayLength(arr: any): number {
    const h = handleOf(arr);
    if (h === null) {
        return 0;
    }
    return Java.vm.getEnv().getArrayLength(h);
}

/** Bytes arr[off, off+len) of a Java byte[] (a bridge wrapper), or null. */
export function javaBytes(arr: any, off = 0, len = -1): ArrayBuffer | null {
    const h = handleOf(arr);
    if (h === null) {
        return null;
    }
    return byteArray(h, off, len);
}

let bufferClass: any = null;

/** A ByteBuffer seen as java.nio.Buffer: ByteBuffer's covariant position(int)/limit(int)
 *  hide Buffer's position()/limit() from the bridge. */
export function asBuffer(bb: any): any {
    if (bufferClass === null) {
        bufferClass = Java.use("java.nio.Buffer");
    }
    return Java.cast(bb, bufferClass);
}

export function position(bb: any): number {
    return asBuffer(bb).position();
}

export function limit(bb: any): number {
    return asBuffer(bb).limit();
}

/** Bytes [from, to) of a java.nio.ByteBuffer, without moving its position. */
export function bufferBytes(bb: any, from: number, to: number): ArrayBuffer | null {
    const n = to - from;
    if (n <= 0) {
        return new ArrayBuffer(0);
    }
    if (bb.hasArray()) {
        return javaBytes(bb.array(), bb.arrayOffset() + from, n);
    }
    const dup = bb.duplicate();
    asBuffer(dup).limit(to);
    asBuffer(dup).position(from);
    const arr = Java.array("byte", new Array<number>(n).fill(0));
    dup.get(arr);
    return javaBytes(arr, 0, n);
}

export function concat(parts: ArrayBuffer[]): ArrayBuffer {
    let total = 0;
    for (const p of parts) {
        total += p.byteLength;
    }
    const out = new Uint8Array(total);
    let pos = 0;
    for (const p of parts) {
        out.set(new Uint8Array(p), pos);
        pos += p.byteLength;
    }
    return out.buffer as ArrayBuffer;
}

/** UTF-8 bytes of a JS string (Java strings arrive as JS strings). */
export function utf8(s: string): ArrayBuffer {
    const bytes: number[] = [];
    for (const ch of unescape(encodeURIComponent(s))) {
        bytes.push(ch.charCodeAt(0));
    }
    return new Uint8Array(bytes).buffer as ArrayBuffer;
}

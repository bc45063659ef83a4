// Per-object state for hooks that follow one Java object over several calls (a Cipher from
// init to doFinal, a Deflater, an OkHttp call): keyed by identity hash, bounded.

import { deleteGlobal, handle, identityHashCode, newGlobal, Ref, sameObject } from "./jni.js";

/** System.identityHashCode of a wrapper or raw reference (raw JNI: no bridge dispatch). */
export function identity(obj: Ref): number {
    return identityHashCode(obj);
}

export class ObjectState<T> {
    private readonly map = new Map<number, T>();

    constructor(private readonly max = 4096) {}

    get size(): number {
        return this.map.size;
    }

    get(obj: any): T | undefined {
        return this.map.get(identity(obj));
    }

    set(obj: any, value: T): void {
        if (this.map.size >= this.max) {
            const first = this.map.keys().next();
            if (!first.done) {
                this.map.delete(first.value);
            }
        }
        this.map.set(identity(obj), value);
    }

    delete(obj: any): void {
        this.map.delete(identity(obj));
    }
}

/** The last few Java objects asked about, told apart by JNI identity (isSameObject, no bridge
 *  call): the hot paths (a TLS stream's every write and read, OkHttp's connection per
 *  request) see the same handful of objects again and again. Each is held by a global
 *  reference while remembered, so its identity cannot be reused by another object. */
export class RecentObjects<T> {
    private items: { ref: NativePointer; value: T }[] = [];

    constructor(private readonly max = 16) {}

    find(obj: Ref): T | undefined {
        const h = handle(obj);
        for (let i = 0; i < this.items.length; i++) {
            const item = this.items[i];
            if (sameObject(item.ref, h)) {
                if (i > 0) {
                    this.items.splice(i, 1);
                    this.items.unshift(item);
                }
                return item.value;
            }
        }
        return undefined;
    }

    add(obj: Ref, value: T): void {
        this.items.unshift({ ref: newGlobal(obj), value });
        if (this.items.length > this.max) {
            deleteGlobal(this.items.pop()!.ref);
        }
    }
}

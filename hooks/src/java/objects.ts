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

    /** Forget the oldest entries while `stale` says so (oldest first: insertion order). */
    dropWhile(stale: (value: T) => boolean): void {
        for (const [k, v] of this.map) {
            if (!stale(v)) {
                break;
            }
            this.map.delete(k);
        }
    }
}

/** The last few Java objects seen, told apart by JNI identity (IsSameObject, no bridge
 *  call): the hot paths (a TLS stream's every write and read, OkHttp's connection per
 *  request) see the same handful of objects again and again. Each is held by a global
 *  reference in a slot of native memory, so the agent's C entries (centries.ts,
 *  okhttp_c.ts) recognise it without JS, with a 64-bit number per slot (a stream's
 *  connection number) for them; JS finds it with find(). A slot given to another object
 *  frees its old reference a second later, when no C entry can still be comparing against
 *  it. */
export class RecentObjects<T> {
    readonly slots: NativePointer;
    readonly numbers: NativePointer;
    private readonly values: (T | undefined)[];
    private next = 0;

    constructor(readonly size = 16) {
        this.slots = Memory.alloc(size * Process.pointerSize);
        this.numbers = Memory.alloc(size * 8);
        this.values = new Array<T | undefined>(size);
    }

    /** The value remembered for obj, newest first. */
    find(obj: Ref): T | undefined {
        const h = handle(obj);
        for (let k = 1; k <= this.size; k++) {
            const i = (this.next - k + this.size) % this.size;
            const ref = this.slots.add(i * Process.pointerSize).readPointer();
            if (!ref.isNull() && sameObject(ref, h)) {
                return this.values[i];
            }
        }
        return undefined;
    }

    /** The value of slot `known` if it still holds `ref` (the reference a C entry matched:
     *  the slot may have been given to another object since). */
    value(known: number, ref: NativePointer): T | undefined {
        if (known < 0 || known >= this.size || !this.slots.add(known * Process.pointerSize).readPointer().equals(ref)) {
            return undefined;
        }
        return this.values[known];
    }

    /** Remember `value` (and `num`, for C entries) for obj. */
    add(obj: Ref, value: T, num = 0): void {
        const i = this.next;
        this.next = (this.next + 1) % this.size;
        const at = this.slots.add(i * Process.pointerSize);
        const old = at.readPointer();
        at.writePointer(NULL);
        this.values[i] = value;
        this.numbers.add(i * 8).writeU64(num);
        at.writePointer(newGlobal(obj));
        if (!old.isNull()) {
            setTimeout(() => deleteGlobal(old), 1000);
        }
    }
}

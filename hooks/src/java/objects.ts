// Per-object state for hooks that follow one Java object over several calls (a Cipher from
// init to doFinal, a Deflater, an OkHttp call): keyed by identity hash, bounded.

import Java from "frida-java-bridge";

let system: any = null;

export function identity(obj: any): number {
    if (system === null) {
        system = Java.use("java.lang.System");
    }
    return system.identityHashCode(obj);
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

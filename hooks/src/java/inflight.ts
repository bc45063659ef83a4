// Which threads are inside an entry of the agent's into a hooked Java method (docs/java.md,
// HotSpot notes): a thread there when the script unloads returns into code and a Method the
// unload frees, and the JVM crashes. The controller's teardown therefore waits, after
// dispose, until none is (index.ts inflight()).
//
// On HotSpot dispose() puts every hooked method back first (table.ts revertAll), and the
// answer is read from the JVM's own stacks: a thread is inside while one of its frames is a
// replacement method (native, with the hooked method's id). The JVM pushes that frame before
// it calls our entry and pops it after our entry returned, so no instruction of ours runs
// outside it; once the methods are put back (a VM operation, at a safepoint) no Java call
// reaches a replacement any more (one JVM-internal exception: docs/java.md). "None inside"
// then stays true: the controller may unload whenever it has read it once. A count kept by the entries themselves could not say that:
// a thread between the JVM's call and its increment (or its decrement and the return) is
// inside without being counted, and before the revert one can always enter after the read.
//
// Elsewhere (ART, untested) the JS entries count themselves under the JS lock.

import Java from "frida-java-bridge";

let js = 0;

/** Run `fn` counted as inside a JS entry (ART's count: see above). */
export function counted<T>(fn: () => T): T {
    js++;
    try {
        return fn();
    } finally {
        js--;
    }
}

/** jvmti.h: GetAllStackTraces is function 100, Deallocate 47 (slots from 1). */
const GET_ALL_STACK_TRACES = 100 - 1;
const DEALLOCATE = 47 - 1;
/** Frames read per thread. A deeper stack is counted as inside (its replacement frame could
 *  be below the cut): waiting longer is safe, unloading under it is not. */
const MAX_FRAMES = 4096;
/** jvmtiStackInfo on a 64-bit JVM: thread, state, frame_buffer, frame_count. */
const STACK_INFO_SIZE = 32;
const FRAME_INFO_SIZE = 16;

type StackTraces = NativeFunction<number, [NativePointer, number, NativePointer, NativePointer]>;
let stackFns: { all: StackTraces; free: NativeFunction<number, [NativePointer, NativePointer]>; env: NativePointer }
    | null | undefined;

function jvmtiFns(): typeof stackFns {
    if (stackFns === undefined) {
        const jvmti = (Java as any).api?.flavor === "jvm" ? (Java as any).api.jvmti : null;
        if (jvmti === null || jvmti === undefined) {
            stackFns = null;
        } else {
            const env: NativePointer = jvmti.handle;
            const slot = (i: number): NativePointer => env.readPointer().add(i * Process.pointerSize).readPointer();
            stackFns = {
                env,
                all: new NativeFunction(slot(GET_ALL_STACK_TRACES), "int", ["pointer", "int", "pointer", "pointer"]),
                free: new NativeFunction(slot(DEALLOCATE), "int", ["pointer", "pointer"]),
            };
        }
    }
    return stackFns;
}

/** Threads with a frame of a replacement method (jmethodID in `ids`, native: location -1),
 *  from one JVMTI snapshot of every thread's stack (taken at a safepoint); null where JVMTI
 *  cannot say (not HotSpot, or an error). A hooked method whose original is itself native
 *  looks the same, and is counted as inside: never an unload too early. */
export function threadsInside(ids: Set<string>): number | null {
    const fns = jvmtiFns();
    if (fns === null || fns === undefined) {
        return null;
    }
    let inside: number | null = null;
    Java.vm.perform(() => {
        const env = Java.vm.getEnv();
        // the jthread local references of the snapshot live in this frame
        env.pushLocalFrame(16);
        const out = Memory.alloc(Process.pointerSize);
        const count = Memory.alloc(4);
        try {
            if (fns.all(fns.env, MAX_FRAMES, out, count) !== 0) {
                return;
            }
            const infos = out.readPointer();
            const n = count.readS32();
            let found = 0;
            for (let t = 0; t < n; t++) {
                const info = infos.add(t * STACK_INFO_SIZE);
                const frames = info.add(16).readPointer();
                const depth = info.add(24).readS32();
                let hit = depth >= MAX_FRAMES;
                for (let f = 0; f < depth && !hit; f++) {
                    const frame = frames.add(f * FRAME_INFO_SIZE);
                    hit = frame.add(8).readS64().toNumber() === -1 && ids.has(frame.readPointer().toString());
                }
                if (hit) {
                    found++;
                }
            }
            fns.free(fns.env, infos);
            inside = found;
        } finally {
            env.popLocalFrame(NULL);
        }
    });
    return inside;
}

/** The JS entries' count (ART). */
export function jsInside(): number {
    return js;
}

// Method swaps the bridge has yet to apply, and the JNI calls that must not keep the JS lock
// meanwhile (docs/java.md, "A method swap while hook threads call JNI").
//
// On HotSpot frida-java-bridge applies each swap (a hook's install, table.ts; the revert at
// dispose) in a VM operation whose work is JS run on the VM Thread at a safepoint (jvm.js
// withJvmThread): it needs the JS lock. Every JNI function can stop its caller at a
// safepoint (the native -> VM transition), so a hook thread holding the JS lock through an
// exclusive call there waits for the VM Thread, which waits for the lock: the JVM hangs for
// good (seen at dispose, under tests/hooks_java/test_dispose.py's churning threads: two hook
// threads in jni_IsSameObject and jni_PushLocalFrame at the safepoint, the VM Thread in
// pthread_mutex_lock from the bridge's callback, the script's thread in VMThread::execute).
// While a swap is pending, the calls made by keepingLock() let go of the lock (and jni.ts
// reads into fresh buffers, not its shared scratch). The count is changed, and read before
// each call, under the JS lock: a call that kept the lock can only have started while none
// was pending, and ended before the change.

const NONE = { exceptions: "propagate" } as const;
const EXCLUSIVE = { exceptions: "propagate", scheduling: "exclusive" } as const;

let pending = 0;

/** Whether a swap is pending: calls let go of the JS lock. */
export function swapping(): boolean {
    return pending !== 0;
}

/** A swap is about to be asked for (call it before the bridge can schedule the swap): until
 *  `applied()`, polled on the script's thread, says it ran. Bounded: a swap never seen
 *  applied leaves the calls letting go of the JS lock, which is only slower. The bridge's
 *  swap runs on this thread too (on its next tick), so a poll never sees it half done. */
export function swapAsked(applied: () => boolean): void {
    pending++;
    let polls = 0;
    const poll = (): void => {
        if (applied()) {
            pending--;
        } else if (++polls < POLLS) {
            setTimeout(poll, POLL_MS);
        }
    };
    Script.nextTick(poll);
}

const POLL_MS = 5;
const POLLS = 6000;

type Native = (...args: any[]) => any;

/** The native function at `at`, for one that may stop at a safepoint and runs no Java code:
 *  called keeping the JS lock (a few µs a call cheaper, and what a caller reads right after
 *  is its own), or letting it go while a swap is pending. */
export function keepingLock(at: NativePointer, ret: NativeFunctionReturnType,
    args: NativeFunctionArgumentType[]): any {
    const excl = new NativeFunction(at, ret, args, EXCLUSIVE) as Native;
    const coop = new NativeFunction(at, ret, args, NONE) as Native;
    switch (args.length) {
    case 0: return () => (pending === 0 ? excl() : coop());
    case 1: return (a: any) => (pending === 0 ? excl(a) : coop(a));
    case 2: return (a: any, b: any) => (pending === 0 ? excl(a, b) : coop(a, b));
    case 3: return (a: any, b: any, c: any) => (pending === 0 ? excl(a, b, c) : coop(a, b, c));
    case 4: return (a: any, b: any, c: any, d: any) => (pending === 0 ? excl(a, b, c, d) : coop(a, b, c, d));
    default: return (...a: any[]) => (pending === 0 ? excl(...a) : coop(...a));
    }
}

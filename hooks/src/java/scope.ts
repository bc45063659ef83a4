// The TLS scope: "this thread is inside the TLS stack right now". JSSE encrypts records
// with javax.crypto.Cipher; those calls are the TLS layer's own, not the app's encryption,
// and must not become transform records (they would double every byte and cost a hook each).
//
// The depth lives in a pthread key of a CModule, so the entries written in C (centries.ts)
// enter, leave and test it without entering JS: JSSE's stream calls and the Cipher calls they
// make then never take the JS lock for it. Where the CModule cannot be built, a JS map per
// thread does the same for the JS entries (and the C entries are not used).

import { reportError } from "./errors.js";

const SCOPE_C = `
#include <glib.h>

extern int pthread_key_create (guint * key, gpointer destructor);
extern gpointer pthread_getspecific (guint key);
extern int pthread_setspecific (guint key, gconstpointer value);

/* Memory of ours (the module's own pages are not writable once it is built). */
extern guint key;

int
scope_init (void)
{
  return pthread_key_create (&key, NULL);
}

void
scope_enter (void)
{
  gsize d = GPOINTER_TO_SIZE (pthread_getspecific (key));
  pthread_setspecific (key, GSIZE_TO_POINTER (d + 1));
}

void
scope_leave (void)
{
  gsize d = GPOINTER_TO_SIZE (pthread_getspecific (key));
  pthread_setspecific (key, GSIZE_TO_POINTER ((d > 0) ? d - 1 : 0));
}

int
scope_inside (void)
{
  return pthread_getspecific (key) != NULL;
}
`;

/** The C scope: its functions, for JS (NativeFunction) and for C entries (addresses). */
export interface NativeScope {
    cm: CModule;
    key: NativePointer;
    enter: NativePointer;
    leave: NativePointer;
    inside: NativePointer;
    callEnter: NativeFunction<void, []>;
    callLeave: NativeFunction<void, []>;
    callInside: NativeFunction<number, []>;
}

let native: NativeScope | null | undefined;

/** The C scope, built on first use; null where it cannot be (reported once). */
export function nativeScope(): NativeScope | null {
    if (native !== undefined) {
        return native;
    }
    native = null;
    try {
        const symbols: { [name: string]: NativePointer } = {};
        for (const name of ["pthread_key_create", "pthread_getspecific", "pthread_setspecific"]) {
            symbols[name] = Module.getGlobalExportByName(name);
        }
        const key = Memory.alloc(8);
        const cm = new CModule(SCOPE_C, { ...symbols, key });
        const init = new NativeFunction(cm.scope_init, "int", []);
        if (init() !== 0) {
            throw new Error("pthread_key_create failed");
        }
        const fast = { exceptions: "propagate", scheduling: "exclusive" } as const;
        native = {
            cm, key, enter: cm.scope_enter, leave: cm.scope_leave, inside: cm.scope_inside,
            callEnter: new NativeFunction(cm.scope_enter, "void", [], fast),
            callLeave: new NativeFunction(cm.scope_leave, "void", [], fast),
            callInside: new NativeFunction(cm.scope_inside, "int", [], fast),
        };
    } catch (e) {
        reportError("java.scope", e);
    }
    return native;
}

/** The fallback: depth per thread id. */
const depth = new Map<number, number>();

export function enter(): void {
    const n = nativeScope();
    if (n !== null) {
        n.callEnter();
        return;
    }
    const tid = Process.getCurrentThreadId();
    depth.set(tid, (depth.get(tid) ?? 0) + 1);
}

export function leave(): void {
    const n = nativeScope();
    if (n !== null) {
        n.callLeave();
        return;
    }
    const tid = Process.getCurrentThreadId();
    const d = (depth.get(tid) ?? 1) - 1;
    if (d <= 0) {
        depth.delete(tid);
    } else {
        depth.set(tid, d);
    }
}

export function inside(): boolean {
    const n = nativeScope();
    if (n !== null) {
        return n.callInside() !== 0;
    }
    return depth.size !== 0 && depth.has(Process.getCurrentThreadId());
}

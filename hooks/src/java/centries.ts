// Entries written in C (a small CModule per hooked overload, HotSpot only) for the calls
// that are on every TLS record: JSSE's app stream write and read and the Cipher calls JSSE
// makes to encrypt the record. A JS entry costs the JVM thread the JS lock twice (entering
// the hook, and again after the original returns) and a dozen native-call crossings; these
// take neither where nothing is recorded:
// - a pass entry (cPassEntry) calls the original through JNI while the thread is inside the
//   TLS scope (scope.ts), and forwards every other call, unchanged, to the bridge's entry
//   (and so to the JS hook);
// - a moved entry (cMovedEntry, a table's entryInC) runs the original inside the TLS scope
//   and, when it did not throw and is the thread's outermost TLS call (a TLS socket layered
//   over another one: the outer stream's bytes are the inner one's ciphertext, not
//   recorded), copies the bytes it moved and recognises the stream: a known stream's chunk
//   goes into the native hooks' ring, anything else to one JS callback.
// Until the bridge has saved the original (its patch runs on the next tick) both forward to
// the bridge's entry.

import { nativeRingStream } from "../native/index.js";
import { JNI_C, withEnv } from "./jni.js";
import { RecentObjects } from "./objects.js";
import { NativeScope } from "./scope.js";

export type ArgKind = "pointer" | "int32" | "int16" | "int8" | "uint8";
export type RetKind = "void" | "int32" | "uint8" | "pointer";

const C_TYPE: { [k: string]: string } = {
    pointer: "gpointer", int32: "gint32", int16: "gint16", int8: "gint8", uint8: "guint8", void: "void",
};
/** The jvalue member each kind is passed in. */
const MEMBER: { [k: string]: string } = { pointer: "l", int32: "i", int16: "s", int8: "b", uint8: "z" };
/** The JNI function (jni.ts JNI_C) that calls a method with each result kind. */
const CALL_SLOT: { [k: string]: string } = {
    void: "JNI_CALL_VOID_A", uint8: "JNI_CALL_BOOLEAN_A", int32: "JNI_CALL_INT_A", pointer: "JNI_CALL_OBJECT_A",
};

/** Modules and callbacks of installed entries: alive as long as the methods may run. */
const keep: unknown[] = [];

/** For a TLS app stream's read or write(byte[] b, int off, int len): after the original,
 *  the C entry copies the bytes it moved (b[off, off + len), or b[off, off + result) for a
 *  read that returned > 0) and looks the receiver up in `receivers`, so the JS callback
 *  makes no JNI call for them. */
export interface Moved {
    len: "arg" | "ret";
    receivers: RecentObjects<string>;
    /** With the native hooks' ring (native/ring.ts): a chunk of a stream the C entry
     *  recognises goes into the ring as a native record of this kind (TLS_OUT or TLS_IN),
     *  named by the hook whose report index is in this 32-bit cell, without entering JS. */
    ringKind: number;
    hookIndex: NativePointer;
}

/** Bytes copied on the C stack; larger moves use malloc. */
const STACK_COPY = 16384;

function movedBlock(m: Moved, ret: RetKind, kinds: string[], ring: boolean): string {
    if (kinds.length !== 3 || kinds[0] !== "pointer" || kinds[1] !== "int32" || kinds[2] !== "int32"
        || (m.len === "ret" && ret !== "int32")) {
        throw new Error("moved bytes need (byte[], int, int)");
    }
    return `
  {
    gint32 n = ${m.len === "arg" ? "a2" : "r"};
    if (n <= 0 || a0 == NULL)
      return${ret === "void" ? "" : " r"};
    guint8 stack_copy[${STACK_COPY}];
    guint8 * buf = (n <= ${STACK_COPY}) ? stack_copy : (guint8 *) libc_malloc ((gsize) n);
    if (buf == NULL)
      return${ret === "void" ? "" : " r"};
    ((GetBytes) fns[JNI_GET_BYTE_ARRAY_REGION]) (env, a0, a1, n, buf);
    if (((ExceptionCheck) fns[JNI_EXCEPTION_CHECK]) (env))
    {
      ((ExceptionClear) fns[JNI_EXCEPTION_CLEAR]) (env);
      n = -1;
    }
    gint32 known = -1;
    gpointer matched = NULL;
    for (gint32 i = 0; i != ${m.receivers.size} && n > 0; i++)
    {
      gpointer ref = receivers[i];
      if (ref != NULL && ((IsSame) fns[JNI_IS_SAME_OBJECT]) (env, self, ref))
      {
        known = i;
        matched = ref;
        break;
      }
    }
${ring ? `    if (n > 0 && known >= 0)
    {
      /* The slot's number, if the slot still holds the reference matched (JS empties a slot
         before it gives it, and its number, to another stream). This relies on the stores
         of JS (slot, number, slot) being seen in order: true on x86-64; on arm64 it would
         need barriers on both sides. A slot changes hands only when more than the slots'
         count of streams are in use. */
      guint64 number = numbers[known];
      if (number != 0 && receivers[known] == matched)
      {
        ring_stream (ring, ${m.ringKind}, number, *hook_index, buf, (gsize) n);
        n = 0;
      }
    }
` : ""}    if (n > 0)
      moved (env, self, buf, n, known, matched);
    if (buf != stack_copy)
      libc_free (buf);
  }`;
}

function source(kinds: string[], ret: RetKind, moved: Moved | null, ring = false): string {
    const params = kinds.map((k, i) => `${C_TYPE[k]} a${i}`);
    const names = kinds.map((_, i) => `a${i}`);
    const sig = ["gpointer env", "gpointer self", ...params].join(", ");
    const pass = ["env", "self", ...names].join(", ");
    const rt = C_TYPE[ret];
    const isVoid = ret === "void";
    const fill = kinds.map((k, i) => `  v[${i}].${MEMBER[k]} = a${i};`).join("\n");
    const call = `((Call) fns[${CALL_SLOT[ret]}]) (env, self, id, v)`;
    const forward = isVoid ? `{ forward (${pass}); return; }` : `return forward (${pass});`;
    const head = `
#include <glib.h>

${JNI_C}

typedef union { guint8 z; gint8 b; gint16 s; gint32 i; gint64 j; gpointer l; } JValue;
typedef ${rt} (* Call) (gpointer env, gpointer self, gpointer method, const JValue * args);
typedef guint8 (* ExceptionCheck) (gpointer env);

extern gpointer target;
extern ${rt} forward (${sig});
extern void scope_enter (void);
extern void scope_leave (void);
extern int scope_inside (void);
${moved !== null ? `typedef void (* GetBytes) (gpointer env, gpointer arr, gint32 off, gint32 n, gpointer buf);
typedef void (* ExceptionClear) (gpointer env);
typedef guint8 (* IsSame) (gpointer env, gpointer a, gpointer b);
extern gpointer receivers[];
extern guint64 numbers[];
${ring ? `extern gpointer ring;
extern guint32 hook_index[];
extern void ring_stream (gpointer ring, guint32 kind, guint64 number, guint32 hook, gconstpointer buf, gsize n);` : ""}
extern void moved (gpointer env, gpointer self, gpointer buf, gint32 n, gint32 known, gpointer ref);
extern gpointer libc_malloc (gsize n);
extern void libc_free (gpointer p);` : ""}

${rt}
entry (${sig})
{
  gpointer id = target;
  gpointer * fns = *(gpointer **) env;
  JValue v[${Math.max(kinds.length, 1)}];
`;
    if (moved === null) {
        return `${head}
  if (id == NULL || !scope_inside ())
    ${forward}
${fill}
  ${isVoid ? `${call};` : `return ${call};`}
}
`;
    }
    return `${head}
  if (id == NULL)
    ${forward}
${fill}
  int outer = !scope_inside ();
  scope_enter ();
  ${isVoid ? "" : `${rt} r = `}${call};
  scope_leave ();
  if (!outer || ((ExceptionCheck) fns[JNI_EXCEPTION_CHECK]) (env))
    ${isVoid ? "return;" : "return r;"}
${movedBlock(moved, ret, kinds, ring)}
  ${isVoid ? "return;" : "return r;"}
}
`;
}

/** What a C entry needs: the signature, the bridge's entry to forward to, and the slot the
 *  original's method id will be written to (NULL until then). */
export interface CEntrySpec {
    kinds: ArgKind[];
    ret: RetKind;
    forward: NativePointer;
    target: NativePointer;
    scope: NativeScope;
}

function build(spec: CEntrySpec, moved: Moved | null = null, movedCb: NativePointer | null = null): NativePointer {
    const symbols: { [name: string]: NativePointer } = {
        target: spec.target, forward: spec.forward,
        scope_enter: spec.scope.enter, scope_leave: spec.scope.leave, scope_inside: spec.scope.inside,
    };
    const ring = moved !== null ? nativeRingStream() : null;
    if (moved !== null && movedCb !== null) {
        symbols.receivers = moved.receivers.slots;
        symbols.numbers = moved.receivers.numbers;
        symbols.moved = movedCb;
        symbols.libc_malloc = Module.getGlobalExportByName("malloc");
        symbols.libc_free = Module.getGlobalExportByName("free");
        if (ring !== null) {
            const cell = Memory.alloc(Process.pointerSize);
            keep.push(cell);
            cell.writePointer(ring.ring);
            symbols.ring = cell;
            symbols.hook_index = moved.hookIndex;
            symbols.ring_stream = ring.write;
        }
    }
    const cm = new CModule(source(spec.kinds, spec.ret, moved, ring !== null), symbols);
    keep.push(cm);
    return cm.entry;
}

/** Inside the TLS scope, straight to the original; otherwise to the bridge's entry. */
export function cPassEntry(spec: CEntrySpec): NativePointer {
    return build(spec);
}

/** What a moved-bytes entry hands JS: the receiver, the bytes (valid during the call), and
 *  the receiver's value in `receivers` (undefined: not there). */
export type MovedCallback = (self: NativePointer, buf: NativePointer, n: number, known: string | undefined) => void;

/** An entry that runs the original in the TLS scope and copies the moved bytes in C (see
 *  Moved). */
export function cMovedEntry(spec: CEntrySpec, moved: Moved, cb: MovedCallback): NativePointer {
    const native = new NativeCallback(((env: NativePointer, self: NativePointer, buf: NativePointer, n: number,
        known: number, ref: NativePointer) => {
        withEnv(env, () => cb(self, buf, n, moved.receivers.value(known, ref)));
    }) as any, "void", ["pointer", "pointer", "pointer", "int32", "int32", "pointer"]);
    keep.push(native);
    return build(spec, moved, native);
}

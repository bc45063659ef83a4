// Attribution: which code made a hooked call. Every Java event carries the first frames
// outside the hooked library (and outside the platform), and the analytics SDK package that
// sent it, so a report can say "sent by com.sensorsdata... from com.mi.globalbrowser...".
// One printed stack trace keeps the cost to a few bridge calls.

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { RecordKind } from "../protocol.js";
import { frame, JMethod, toJavaString } from "./jni.js";
import { keepingLock } from "./swaps.js";
import { reportError } from "./errors.js";

/** Frames of these packages are the platform or this agent's plumbing, never "the caller". */
const PLATFORM = [
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "android.", "androidx.", "com.android.",
    "dalvik.", "libcore.", "kotlin.", "kotlinx.", "org.json.", "okio.",
];

/** Packages of analytics SDKs and HTTP stacks known to the tables (sender candidates). */
const senders: string[] = [];
/** Attributions by (library, sender, printed stack): the same call path (a request loop, an
 *  SDK's upload timer) prints the same trace, and parsing it cost more than printing it.
 *  Cleared when a sender package is added (the same trace may then name an SDK). */
const seen = new Map<string, Attribution>();
const MAX_SEEN = 512;
const MAX_FRAMES = 8;

export function addSender(prefix: string): void {
    if (!senders.includes(prefix)) {
        senders.push(prefix);
        senders.sort((a, b) => b.length - a.length);
        seen.clear();
        forgetPaths();
    }
}

export interface Attribution {
    frames: string[];
    sender: string | null;
    /** The first frame outside `library` (platform or not): who called the hooked method. */
    caller: string | null;
}

const newThrowable = new JMethod("java.lang.Throwable", "<init>", "()V");
const newStringWriter = new JMethod("java.io.StringWriter", "<init>", "()V");
const newPrintWriter = new JMethod("java.io.PrintWriter", "<init>", "(Ljava/io/Writer;)V");
const printStackTrace = new JMethod("java.lang.Throwable", "printStackTrace", "(Ljava/io/PrintWriter;)V");
let resolved = false;

/** The calling thread's frames, innermost first, as "pkg.Class.method(File.java:N)".
 *  Printed by Throwable.printStackTrace into a StringWriter and split here: five raw JNI
 *  calls and one string. Through the bridge the same took ~0.3 ms (Thread.getStackTrace()
 *  was 5x dearer still: its StackTraceElement[] became JS wrappers, then a Java array). */
function stackText(): string {
    if (!resolved) {
        for (const m of [newThrowable, newStringWriter, newPrintWriter, printStackTrace]) {
            m.resolve();
        }
        resolved = true;
    }
    return frame(8, () => {
        const sw = newStringWriter.construct();
        const pw = newPrintWriter.construct(sw);
        printStackTrace.call(newThrowable.construct(), pw);
        return toJavaString(sw);
    });
}

function parseFrames(text: string): string[] {
    const out: string[] = [];
    for (const raw of text.split("\n")) {
        // "\tat java.base/java.lang.Thread.run(Thread.java:833)", "\tat app//a.B.c(B.java:3)"
        const line = raw.trim();
        if (!line.startsWith("at ")) {
            continue;
        }
        const f = line.slice(3);
        const paren = f.indexOf("(");
        const head = paren >= 0 ? f.slice(0, paren) : f;
        const slash = head.lastIndexOf("/");
        out.push(slash >= 0 ? f.slice(slash + 1) : f);
    }
    return out;
}

/** HotSpot: a 64-bit hash of the calling thread's Java frames (method ids and bytecode
 *  positions, inlined frames included) from JVMTI GetStackTrace, in C. Two calls with the
 *  same key come from the same call path, so the printed trace of the first is reused and
 *  the Java printing (~0.3 ms of StackTraceElements and strings) is skipped. A stack deeper
 *  than MAX_KEY_FRAMES, or an error, gives 0: no key, the trace is printed. */
const MAX_KEY_FRAMES = 256;
const STACK_KEY_C = `
#include <glib.h>

typedef struct { gpointer method; gint64 location; } FrameInfo;
typedef gint (* GetStackTraceFunc) (gpointer env, gpointer thread, gint start, gint max,
    FrameInfo * frames, gint * count);

guint64
stack_key (GetStackTraceFunc get_stack_trace, gpointer env)
{
  FrameInfo frames[${MAX_KEY_FRAMES}];
  gint count = 0;
  if (get_stack_trace (env, NULL, 0, ${MAX_KEY_FRAMES}, frames, &count) != 0 || count <= 0 ||
      count >= ${MAX_KEY_FRAMES})
    return 0;
  guint64 h = 14695981039346656037ULL;
  const guint8 * p = (const guint8 *) frames;
  gsize n = (gsize) count * sizeof (FrameInfo);
  for (gsize i = 0; i != n; i++)
  {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  h ^= (guint64) count;
  return (h == 0) ? 1 : h;
}

/* key_cells: GetStackTrace, the JVMTI env (for C entries: current_key ()) */
extern gpointer key_cells[];

guint64
current_key (void)
{
  return stack_key ((GetStackTraceFunc) key_cells[0], key_cells[1]);
}
`;
/** JVMTI's function table slot of GetStackTrace (function 104, jvmti.h). */
const GET_STACK_TRACE = 104 - 1;

interface KeyFn {
    cm: CModule;
    /** What current_key() reads (kept: a CModule's symbols do not keep memory alive). */
    cells: NativePointer;
    call: () => UInt64;
}
let keyFn: KeyFn | null | undefined;

function stackKeyFn(): KeyFn | null {
    if (keyFn !== undefined) {
        return keyFn;
    }
    keyFn = null;
    try {
        const api = (Java as any).api;
        const jvmti = api?.flavor === "jvm" ? api.jvmti : null;
        if (jvmti !== null && jvmti !== undefined) {
            const env: NativePointer = jvmti.handle;
            const getStackTrace = env.readPointer().add(GET_STACK_TRACE * Process.pointerSize).readPointer();
            const cells = Memory.alloc(2 * Process.pointerSize);
            cells.writePointer(getStackTrace);
            cells.add(Process.pointerSize).writePointer(env);
            const cm = new CModule(STACK_KEY_C, { key_cells: cells });
            keyFn = {
                cm, cells,
                // JVMTI's GetStackTrace can stop at a safepoint like a JNI call (swaps.ts)
                call: keepingLock(cm.current_key, "uint64", []),
            };
        }
    } catch (e) {
        // Attribution still works, by printing every trace: report why it is slower.
        keyFn = null;
        reportError("java.frames.stackKey", e);
    }
    return keyFn;
}

/** current_key(): the calling thread's call path key (0: none), for C entries; null where
 *  there is no key (ART, or JVMTI unusable). */
export function currentKeyFn(): NativePointer | null {
    const k = stackKeyFn();
    return k === null ? null : k.cm.current_key;
}

/** Call paths whose attribution C entries may cite by key instead of calling JS: a
 *  direct-mapped table of keys in native memory (a key that lost its slot to another is
 *  announced again). Emptied when a sender package is added (the same path may then name an
 *  SDK). */
export const PATH_SLOTS = 1024;
export const pathSlots = Memory.alloc(PATH_SLOTS * 8);

function forgetPaths(): void {
    pathSlots.writeByteArray(new ArrayBuffer(PATH_SLOTS * 8));
}
forgetPaths();

/** Tell the harness which attribution `key` stands for (a `call-path` record), then let C
 *  entries cite it: they check pathSlots only after this record is pending, so it reaches
 *  the harness in the same batch as their records or an earlier one. */
export function announcePath(hook: string, key: string, a: Attribution): void {
    emit(RecordKind.CALL_PATH, hook, { key, frames: a.frames, sender: a.sender });
    const k = uint64(key);
    pathSlots.add(k.and(PATH_SLOTS - 1).toNumber() * 8).writeU64(k);
}

/** The call path's key, or null where there is none (ART, a stack too deep, an error). */
function stackKey(): string | null {
    const k = stackKeyFn();
    if (k === null) {
        return null;
    }
    const v = k.call();
    return v.equals(0) ? null : v.toString();
}

function startsWithAny(s: string, prefixes: string[]): boolean {
    for (const p of prefixes) {
        if (s.startsWith(p)) {
            return true;
        }
    }
    return false;
}


/** The calling frames outside `library` and the platform, and the SDK that sent it; `key`:
 *  the call path's key where the caller has it (null: none), else asked here. */
export function attribute(library: string[] = [], sender: string | null = null,
    key: string | null | undefined = undefined): Attribution {
    const head = cacheHead(library, sender);
    const pathKey = key !== undefined ? key : stackKey();
    if (pathKey !== null) {
        const known = seen.get(head + pathKey);
        if (known !== undefined) {
            return known;
        }
    }
    const text = stackText();
    const textKey = head + text;
    let a = seen.get(textKey);
    if (a === undefined) {
        a = attributeFrames(parseFrames(text), library, sender);
        remember(textKey, a);
    }
    if (pathKey !== null) {
        remember(head + pathKey, a);
    }
    return a;
}

/** The cache key's prefix for a library list and sender: made once per table's library
 *  list (the tables pass module constants), not joined again on every hooked call. */
const heads = new Map<string[], string>();

function cacheHead(library: string[], sender: string | null): string {
    if (sender !== null || library.length === 0) {
        return `${library.join(",")}|${sender ?? ""}|`;
    }
    let head = heads.get(library);
    if (head === undefined) {
        head = `${library.join(",")}||`;
        heads.set(library, head);
    }
    return head;
}

function remember(key: string, a: Attribution): void {
    if (seen.size >= MAX_SEEN) {
        seen.clear();
    }
    seen.set(key, a);
}

function attributeFrames(all: string[], library: string[], sender: string | null): Attribution {
    const frames: string[] = [];
    let found = sender;
    let caller: string | null = null;
    for (const f of all) {
        if (caller === null && !startsWithAny(f, library) && !f.startsWith("java.lang.Thread.")) {
            caller = f;
        }
        if (found === null) {
            for (const s of senders) {
                if (f.startsWith(s) && !startsWithAny(f, library)) {
                    found = s.endsWith(".") ? s.slice(0, -1) : s;
                    break;
                }
            }
        }
        if (frames.length < MAX_FRAMES && !startsWithAny(f, library) && !startsWithAny(f, PLATFORM)) {
            frames.push(f);
        }
    }
    return { frames, sender: found, caller };
}

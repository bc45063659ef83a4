// Attribution: which code made a hooked call. Every Java event carries the first frames
// outside the hooked library (and outside the platform), and the analytics SDK package that
// sent it, so a report can say "sent by com.sensorsdata... from com.mi.globalbrowser...".
// One printed stack trace keeps the cost to a few bridge calls.

import Java from "frida-java-bridge";

/** Frames of these packages are the platform or this agent's plumbing, never "the caller". */
const PLATFORM = [
    "java.", "javax.", "jdk.", "sun.", "com.sun.", "android.", "androidx.", "com.android.",
    "dalvik.", "libcore.", "kotlin.", "kotlinx.", "org.json.", "okio.",
];

/** Packages of analytics SDKs and HTTP stacks known to the tables (sender candidates). */
const senders: string[] = [];
const MAX_FRAMES = 8;

export function addSender(prefix: string): void {
    if (!senders.includes(prefix)) {
        senders.push(prefix);
        senders.sort((a, b) => b.length - a.length);
    }
}

export interface Attribution {
    frames: string[];
    sender: string | null;
    /** The first frame outside `library` (platform or not): who called the hooked method. */
    caller: string | null;
}

let throwable: any = null;
let stringWriter: any = null;
let printWriter: any = null;

/** The calling thread's frames, innermost first, as "pkg.Class.method(File.java:N)".
 *  Printed by Throwable.printStackTrace into a StringWriter and split here: a handful of
 *  bridge calls and one string. Thread.getStackTrace() was 5x dearer per call (its
 *  StackTraceElement[] is turned into JS wrappers, then back into a Java array). */
function rawFrames(): string[] {
    if (throwable === null) {
        throwable = Java.use("java.lang.Throwable");
        stringWriter = Java.use("java.io.StringWriter");
        printWriter = Java.use("java.io.PrintWriter");
    }
    const sw = stringWriter.$new();
    throwable.$new().printStackTrace(printWriter.$new(sw));
    const text: string = sw.toString();
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

function startsWithAny(s: string, prefixes: string[]): boolean {
    for (const p of prefixes) {
        if (s.startsWith(p)) {
            return true;
        }
    }
    return false;
}

/** The calling frames outside `library` and the platform, and the SDK that sent it. */
export function attribute(library: string[] = [], sender: string | null = null): Attribution {
    const all = rawFrames();
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

// Attribution: which code made a hooked call. Every Java event carries the first frames
// outside the hooked library (and outside the platform), and the analytics SDK package that
// sent it, so a report can say "sent by com.sensorsdata... from com.mi.globalbrowser...".
// One Java call (Arrays.toString of the stack) keeps the cost to a few JNI transitions.

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

let arrays: any = null;
let thread: any = null;

function rawFrames(): string[] {
    if (arrays === null) {
        arrays = Java.use("java.util.Arrays");
        thread = Java.use("java.lang.Thread");
    }
    const text: string = arrays.toString(thread.currentThread().getStackTrace());
    // "[java.base/java.lang.Thread.getStackTrace(Thread.java:1610), app//a.B.c(B.java:3)]"
    const inner = text.length >= 2 ? text.slice(1, -1) : "";
    if (inner === "") {
        return [];
    }
    return inner.split(", ").map((f) => {
        const paren = f.indexOf("(");
        const head = paren >= 0 ? f.slice(0, paren) : f;
        const slash = head.lastIndexOf("/");
        return slash >= 0 ? f.slice(slash + 1) : f;
    });
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

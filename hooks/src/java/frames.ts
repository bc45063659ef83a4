// Attribution: which code made a hooked call. Every Java event carries the first frames
// outside the hooked library (and outside the platform), and the analytics SDK package that
// sent it, so a report can say "sent by com.sensorsdata... from com.mi.globalbrowser...".
// One printed stack trace keeps the cost to a few bridge calls.

import Java from "frida-java-bridge";

import { frame, JMethod, toJavaString } from "./jni.js";

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
let classes: NativePointer[] | null = null;

/** The calling thread's frames, innermost first, as "pkg.Class.method(File.java:N)".
 *  Printed by Throwable.printStackTrace into a StringWriter and split here: five raw JNI
 *  calls and one string. Through the bridge the same took ~0.3 ms (Thread.getStackTrace()
 *  was 5x dearer still: its StackTraceElement[] became JS wrappers, then a Java array). */
function stackText(): string {
    if (classes === null) {
        const held = ["java.lang.Throwable", "java.io.StringWriter", "java.io.PrintWriter"]
            .map((c) => Java.retain(Java.use(c).class));
        for (const m of [newThrowable, newStringWriter, newPrintWriter, printStackTrace]) {
            m.resolve();
        }
        classes = held.map((w) => w.$h as NativePointer);
        heldClasses.push(...held);
    }
    const [throwableClass, writerClass, printClass] = classes;
    return frame(8, () => {
        const sw = newStringWriter.construct(writerClass);
        const pw = newPrintWriter.construct(printClass, sw);
        printStackTrace.call(newThrowable.construct(throwableClass), pw);
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

/** Wrappers holding the global references of the classes above. */
const heldClasses: any[] = [];

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
    const text = stackText();
    const key = `${library.join(",")}|${sender ?? ""}|${text}`;
    const known = seen.get(key);
    if (known !== undefined) {
        return known;
    }
    const a = attributeFrames(parseFrames(text), library, sender);
    if (seen.size >= MAX_SEEN) {
        seen.clear();
    }
    seen.set(key, a);
    return a;
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

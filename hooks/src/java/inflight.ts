// Threads inside an entry of the agent's into a hooked Java method (docs/java.md, HotSpot
// notes): a thread blocked in a hooked read when the capture stops returns into entry code
// that the unload frees, so the controller waits until none is left (index.ts inflight()).
// The C entries (centries.ts, okhttp_entry_c.ts) count in native memory, atomically; the JS
// entries (table.ts, entries.ts) count here, under the JS lock.

/** The C entries' count (a gint, g_atomic_int_add). */
export const cInflight = Memory.alloc(4);
let js = 0;

/** Run `fn` counted as inside a JS entry. */
export function counted<T>(fn: () => T): T {
    js++;
    try {
        return fn();
    } finally {
        js--;
    }
}

export function javaInflight(): number {
    return cInflight.readS32() + js;
}

/** C for an entry's wrapper: `entry` counts the calls of the generated `body`. */
export function countedEntry(rt: string, sig: string, pass: string): string {
    const isVoid = rt === "void";
    return `
extern gint java_inflight;

${rt}
entry (${sig})
{
  g_atomic_int_add (&java_inflight, 1);
  ${isVoid ? "" : `${rt} r = `}body (${pass});
  g_atomic_int_add (&java_inflight, -1);
  ${isVoid ? "return;" : "return r;"}
}
`;
}

// Opt-in timing of the agent's own work (AgentConfig.profile, bench/java_overhead.py
// --profile): per hook, how many calls and how long each part took, in the target, read back
// with status(). Off (the default) it costs one boolean test where it is asked. On, every
// measured part costs two calls of a C clock (~1 µs each from JS), which the figures include.

export interface ProfileEntry {
    calls: number;
    total_us: number;
}

let clock: NativeFunction<number, []> | null = null;
const totals = new Map<string, ProfileEntry>();

/** True once enableProfile() ran: callers test it before they take the time. */
export let profiling = false;

const CLOCK_C = `
#include <glib.h>
extern int clock_gettime (int clk, gpointer ts);
double
now_us (void)
{
  struct { gint64 s; gint64 ns; } t;
  clock_gettime (1, &t);
  return (double) t.s * 1e6 + (double) t.ns / 1e3;
}
`;
let keep: CModule | null = null;

export function enableProfile(): void {
    if (clock !== null) {
        return;
    }
    keep = new CModule(CLOCK_C, { clock_gettime: Module.getGlobalExportByName("clock_gettime") });
    clock = new NativeFunction(keep.now_us, "double", [], { exceptions: "propagate", scheduling: "exclusive" });
    profiling = true;
}

/** Microseconds on a monotonic clock (0 when profiling is off). */
export function now(): number {
    return clock === null ? 0 : clock();
}

/** Adds the time since `start` (a now()) to `name`. */
export function took(name: string, start: number): void {
    if (clock === null) {
        return;
    }
    const spent = clock() - start;
    const e = totals.get(name);
    if (e === undefined) {
        totals.set(name, { calls: 1, total_us: spent });
    } else {
        e.calls++;
        e.total_us += spent;
    }
}

/** Everything measured so far, or null when profiling is off. */
export function profileReport(): { [name: string]: ProfileEntry } | null {
    if (clock === null) {
        return null;
    }
    const out: { [name: string]: ProfileEntry } = {};
    for (const [name, e] of totals) {
        out[name] = { calls: e.calls, total_us: Math.round(e.total_us) };
    }
    return out;
}

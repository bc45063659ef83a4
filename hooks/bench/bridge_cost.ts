// Agent of bench/java_bridge_cost.py: what one Java call costs through frida-java-bridge and
// through the agent's raw JNI layer (src/java/jni.ts), in the target JVM.

import Java from "frida-java-bridge";

import { JMethod, toJavaString } from "../src/java/jni.js";

function nsPerCall(n: number, fn: () => void): number {
    const t0 = Date.now();
    for (let i = 0; i < n; i++) {
        fn();
    }
    return Math.round((Date.now() - t0) * 1e6 / n);
}

rpc.exports = {
    /** Calls from JS into Java: bridge wrappers against raw JNI with a resolved method id. */
    calls(n: number): { [k: string]: number } {
        const out: { [k: string]: number } = {};
        Java.performNow(() => {
            const C = Java.use("BridgeCost");
            const inst = C.$new();
            const bytes = Java.array("byte", [1, 2, 3]);
            const s = Java.use("java.lang.String").$new("hello, world");
            out.bridge_instance_call = nsPerCall(n, () => { inst.g(inst, bytes); });
            out.bridge_to_string = nsPerCall(n, () => { String(s.toString()); });
            const g = new JMethod("BridgeCost", "g", "(Ljava/lang/Object;[B)Ljava/lang/Object;").resolve();
            const h = inst.$h;
            const bh = (bytes as any).$h;
            out.raw_instance_call = nsPerCall(n, () => { g.call(h, h, bh); });
            out.raw_to_string = nsPerCall(n, () => { toJavaString(s.$h); });
            out.get_env = nsPerCall(n, () => { Java.vm.getEnv(); });
            out.alloc16 = nsPerCall(n, () => { Memory.alloc(16); });
            out.tid = nsPerCall(n, () => { Process.getCurrentThreadId(); });
            // The same call of g made from C (a CModule loop): what a JNI call costs without
            // JS (okhttp_c.ts, centries.ts), and what one crossing from JS into C costs.
            const cm = new CModule(`
#include <glib.h>
typedef gpointer (* CallObject) (gpointer env, gpointer obj, gpointer id, gpointer argv);
typedef void (* DeleteLocal) (gpointer env, gpointer obj);
int loop (gpointer env, gpointer obj, gpointer id, gpointer argv, int n)
{
  gpointer * fns = *(gpointer **) env;
  for (int i = 0; i < n; i++)
    ((DeleteLocal) fns[23]) (env, ((CallObject) fns[36]) (env, obj, id, argv));
  return n;
}
int nothing (void) { return 1; }
`);
            const loop = new NativeFunction(cm.loop, "int", ["pointer", "pointer", "pointer", "pointer", "int"]);
            const argv = Memory.alloc(16);
            argv.writePointer(h);
            argv.add(8).writePointer(bh);
            const env = Java.vm.getEnv().handle;
            const many = n * 10;
            const t0 = Date.now();
            loop(env, h, g.methodId ?? NULL, argv, many);
            out.c_instance_call = Math.round((Date.now() - t0) * 1e6 / many);
            const nothing = new NativeFunction(cm.nothing, "int", []);
            out.js_to_c_call = nsPerCall(n, () => { nothing(); });
        });
        return out;
    },
    /** Hooks f and g: "entry" (the replacement returns without the original) or "through"
     *  (it calls the original through the bridge); null removes the hooks. */
    hook(mode: string | null): void {
        Java.performNow(() => {
            const C = Java.use("BridgeCost");
            const f = C.f.overload("int");
            const g = C.g.overload("java.lang.Object", "[B");
            const w = C.work.overload("int");
            if (mode === null) {
                f.implementation = null;
                g.implementation = null;
                w.implementation = null;
            } else if (mode === "entry") {
                f.implementation = function (x: number) { return x + 1; };
                g.implementation = function (o: any) { return o; };
                w.implementation = function () { return 0; };
            } else {
                f.implementation = function (this: any, x: number) { return f.call(this, x); };
                g.implementation = function (this: any, o: any, b: any) { return g.call(this, o, b); };
                w.implementation = function (this: any, n: number) { return w.call(this, n); };
            }
        });
    },
};

// Cronet (org.chromium.net), Chromium's network stack as a library: the requests an app
// builds (URL, method, headers) and, when the agent blocks QUIC, CronetEngine.Builder is
// made to call enableQuic(false) so Cronet stays on TCP+TLS where the TLS hooks see it.

import Java from "frida-java-bridge";

import { addSender } from "./frames.js";
import { emitHttp, newCall } from "./http.js";
import { JavaHook } from "./table.js";

const G = "java.cronet";
const LIB = ["org.chromium."];
const BUILDER = "org.chromium.net.CronetEngine$Builder";
addSender("org.chromium.net.");

let blockQuic = true;

export function configureCronet(block: boolean): void {
    blockQuic = block;
}

export const cronetTable: JavaHook[] = [
    {
        group: G, name: `${G}.CronetEngine.Builder.enableQuic`, cls: BUILDER, method: "enableQuic",
        args: ["boolean"], library: LIB,
        rewrite(c) {
            return blockQuic ? [false] : c.args;
        },
    },
    {
        group: G, name: `${G}.CronetEngine.Builder.build`, cls: BUILDER, method: "build", args: [],
        library: LIB,
        before(c) {
            if (blockQuic) {
                c.self.enableQuic(false);
            }
        },
    },
    {
        group: G, name: `${G}.UrlRequestBuilderImpl.build`,
        cls: "org.chromium.net.impl.UrlRequestBuilderImpl", method: "build", args: [], library: LIB,
        before(c) {
            const self = c.self;
            const headers: [string, string][] = [];
            const list = self.mRequestHeaders.value;
            if (list !== null) {
                const P = Java.use("android.util.Pair");
                const n: number = list.size();
                for (let i = 0; i < n; i++) {
                    const pair = Java.cast(list.get(i), P);
                    headers.push([String(pair.first.value), String(pair.second.value)]);
                }
            }
            const method = self.mMethod.value;
            emitHttp(c.hook.name, LIB, {
                stack: "cronet", phase: "request", call: newCall("cronet"),
                url: String(self.mUrl.value),
                method: method !== null ? String(method)
                    : self.mUploadDataProvider.value !== null ? "POST" : "GET",
                headers,
            }, null, null);
        },
    },
];

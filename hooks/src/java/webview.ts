// android.webkit.WebView: what a browser or hybrid app asks its WebView to load or run
// (loadUrl, postUrl, loadData*, evaluateJavascript) and the page loads the WebViewClient
// hears of (onPageStarted, onPageFinished, shouldInterceptRequest). Apps subclass
// WebViewClient, so setWebViewClient hooks the overrides of the client's own class too.

import Java from "frida-java-bridge";

import { emit } from "../emit.js";
import { HookStatus, RecordKind } from "../protocol.js";
import { reportHook } from "../registry.js";
import { javaBytes, utf8 } from "./bytes.js";
import { attribute } from "./frames.js";
import { HookCall, JavaHook, wrap } from "./table.js";

const G = "java.webview";
const LIB = ["android.webkit.", "com.android.webview.", "org.chromium."];
const WV = "android.webkit.WebView";
const CLIENT = "android.webkit.WebViewClient";

function page(hook: string, method: string, url: string | null, body: ArrayBuffer | null,
    extra: { [k: string]: unknown } = {}): void {
    const a = attribute(LIB);
    emit(RecordKind.PAGE, hook, { api: "webview", method, url, frames: a.frames, sender: a.sender,
        ...extra }, { body });
}

function s(v: any): string | null {
    return v === null || v === undefined ? null : String(v);
}

function call(method: string, url: (c: HookCall) => string | null,
    body: (c: HookCall) => ArrayBuffer | null = () => null): JavaHook {
    return {
        group: G, name: `${G}.WebView.${method}`, cls: WV, method, library: LIB,
        before(c) {
            page(c.hook.name, method, url(c), body(c));
        },
    };
}

const clientEvents: { [method: string]: (c: HookCall) => [string | null, string | null] } = {
    onPageStarted: (c) => [s(c.args[1]), null],
    onPageFinished: (c) => [s(c.args[1]), null],
    shouldInterceptRequest: (c) => {
        const r = c.args[1];
        if (typeof r === "string" || r === null) {
            return [s(r), null];
        }
        return [s(r.getUrl().toString()), s(r.getMethod())];
    },
};

function clientHook(cls: string, method: string): JavaHook {
    return {
        group: G, name: `${G}.WebViewClient.${method}`, cls, method, library: LIB,
        before(c) {
            const [url] = clientEvents[method](c);
            page(c.hook.name, method, url, null);
        },
    };
}

const hookedClients = new Set<string>([CLIENT]);

/** Hook the overrides declared by an app's WebViewClient subclass. */
function hookClientClass(client: any): void {
    const cls = String(client.getClass().getName());
    if (hookedClients.has(cls)) {
        return;
    }
    hookedClients.add(cls);
    const factory = Java.ClassFactory.get(client.getClass().getClassLoader());
    const C: any = factory.use(cls);
    const declared = new Set<string>(
        Array.from(client.getClass().getDeclaredMethods() as ArrayLike<any>, (m: any) => String(m.getName())),
    );
    for (const method of Object.keys(clientEvents)) {
        const name = `${G}.WebViewClient.${method}`;
        if (!declared.has(method)) {
            continue;
        }
        try {
            for (const m of C[method].overloads) {
                wrap(clientHook(cls, method), m);
            }
            reportHook(G, name, HookStatus.INSTALLED, `${cls}.${method}`, "WebViewClient subclass");
        } catch (e) {
            reportHook(G, name, HookStatus.FAILED, `${cls}.${method}`, String(e));
        }
    }
}

export const webviewTable: JavaHook[] = [
    call("loadUrl", (c) => s(c.args[0])),
    call("postUrl", (c) => s(c.args[0]), (c) => javaBytes(c.args[1])),
    call("loadData", () => null, (c) => (c.args[0] !== null ? utf8(String(c.args[0])) : null)),
    call("loadDataWithBaseURL", (c) => s(c.args[0]),
        (c) => (c.args[1] !== null ? utf8(String(c.args[1])) : null)),
    call("evaluateJavascript", () => null,
        (c) => (c.args[0] !== null ? utf8(String(c.args[0])) : null)),
    {
        group: G, name: `${G}.WebView.setWebViewClient`, cls: WV, method: "setWebViewClient",
        library: LIB,
        after(c) {
            if (c.args[0] !== null) {
                hookClientClass(c.args[0]);
            }
        },
    },
    ...Object.keys(clientEvents).map((m) => clientHook(CLIENT, m)),
];

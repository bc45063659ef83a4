// Per-thread scopes: "this thread is inside the TLS stack right now". JSSE encrypts records
// with javax.crypto.Cipher; those calls are the TLS layer's own, not the app's encryption,
// and must not become transform records (they would double every byte and cost a hook each).

const depth = new Map<string, number>();

function key(scope: string): string {
    return `${scope}:${Process.getCurrentThreadId()}`;
}

export function enter(scope: string): void {
    const k = key(scope);
    depth.set(k, (depth.get(k) ?? 0) + 1);
}

export function leave(scope: string): void {
    const k = key(scope);
    const d = (depth.get(k) ?? 1) - 1;
    if (d <= 0) {
        depth.delete(k);
    } else {
        depth.set(k, d);
    }
}

export function inside(scope: string): boolean {
    return depth.size !== 0 && depth.has(key(scope));
}

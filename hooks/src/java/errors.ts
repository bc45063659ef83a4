// Failures of the agent's own Java-side code, reported as agent_error records (bounded):
// a hook body that threw, a helper that could not be built. The app never sees them.

import { emit } from "../emit.js";
import { RecordKind } from "../protocol.js";

let errorsReported = 0;
const MAX_ERRORS = 200;

export function reportError(where: string, e: unknown): void {
    if (errorsReported++ >= MAX_ERRORS) {
        return;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    emit(RecordKind.AGENT_ERROR, where, { message: err.message, stack: err.stack ?? null, where });
}

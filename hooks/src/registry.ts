// Coverage is data: every hook table entry is reported installed, skipped (and why) or
// failed (and why), as a `hook` record, and kept for status(). Never skip silently.

import { emit } from "./emit.js";
import { HookStatus, RecordKind } from "./protocol.js";

export interface HookReport {
    name: string;
    status: HookStatus;
    target: string;
    group: string;
    reason: string | null;
    /** Index carried by native records (their `hook` member). */
    index: number;
}

/** The reason the Java side reports when the process has no Java VM. */
export const NO_JAVA_VM = "no Java VM in this process";

const reports: HookReport[] = [];

export function reportHook(
    group: string,
    name: string,
    status: HookStatus,
    target: string,
    reason: string | null = null,
): number {
    const index = reports.length;
    const r: HookReport = { name, status, target, group, reason, index };
    reports.push(r);
    emit(RecordKind.HOOK, "registry", { name, status, target, group, reason, index });
    return index;
}

export function hookReports(): HookReport[] {
    return reports.slice();
}

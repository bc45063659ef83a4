"""Generates ``hooks/src/protocol.ts`` from :mod:`harness.protocol`.

``python -m harness.protocol_ts > hooks/src/protocol.ts``; CI's drift check runs the same
command and fails when the committed file differs, so the agent and the harness cannot
disagree on a constant.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from harness.protocol import (
    ABI_VERSION,
    CONN_INFO_FORMAT,
    DNS_ADDRESS,
    DNS_FORMAT,
    HTTP_CALL_FORMAT,
    JAVA_CONN_BASE,
    KIND_FIELDS,
    NATIVE_ALIGN,
    NATIVE_FLAG_TRUNCATED,
    NATIVE_HEADER,
    Direction,
    HookStatus,
    Layer,
    NativeKind,
    RecordKind,
)


def _ts_enum(name: str, members: Sequence[tuple[str, str | int]]) -> str:
    lines = [f"export const {name} = {{"]
    for key, value in members:
        lines.append(f"    {key}: {json.dumps(value)},")
    lines.append("} as const;")
    lines.append(f"export type {name} = typeof {name}[keyof typeof {name}];")
    return "\n".join(lines)


def render_typescript() -> str:
    """The text of ``hooks/src/protocol.ts``."""
    parts = [
        "// GENERATED from harness/protocol.py by `python -m harness.protocol_ts`. Do not edit.",
        "",
        f"export const ABI_VERSION = {ABI_VERSION};",
        "",
        _ts_enum("RecordKind", [(m.name, m.value) for m in RecordKind]),
        "",
        _ts_enum("Direction", [(m.name, m.value) for m in Direction]),
        "",
        _ts_enum("Layer", [(m.name, m.value) for m in Layer]),
        "",
        _ts_enum("HookStatus", [(m.name, m.value) for m in HookStatus]),
        "",
        _ts_enum("NativeKind", [(m.name, m.value) for m in NativeKind]),
        "",
        f"export const NATIVE_FLAG_TRUNCATED = {NATIVE_FLAG_TRUNCATED};",
        f"export const NATIVE_HEADER_SIZE = {NATIVE_HEADER.size};",
        f"export const NATIVE_ALIGN = {NATIVE_ALIGN};",
        f"export const CONN_INFO_SIZE = {CONN_INFO_FORMAT.size};",
        f"export const DNS_HEADER_SIZE = {DNS_FORMAT.size};",
        f"export const DNS_ADDRESS_SIZE = {DNS_ADDRESS.size};",
        f"export const HTTP_CALL_HEADER_SIZE = {HTTP_CALL_FORMAT.size};",
        f"export const JAVA_CONN_BASE = {JAVA_CONN_BASE};",
        "",
        "/** How ids made from a pid name it for the agent's instance in that process",
        " *  (harness.protocol.agent_pid): the pid for the first, `<pid>.<agent>` after. */",
        "export function agentPid(pid: number, agent: number): string {",
        "    return agent === 0 ? `${pid}` : `${pid}.${agent}`;",
        "}",
        "",
        "/** The id of a connection in a run (harness.protocol.conn_id). */",
        "export function connId(pid: number, layer: Layer, n: number, agent: number): string {",
        "    return `${agentPid(pid, agent)}:${layer}:${n}`;",
        "}",
        "",
        "/** The number of a connection id made by connId. */",
        "export function connNumber(id: string): number {",
        "    return Number(id.slice(id.lastIndexOf(\":\") + 1));",
        "}",
        "/** struct format (Python struct syntax) of the native header. */",
        f"export const NATIVE_HEADER_FORMAT = {json.dumps(NATIVE_HEADER.format)};",
        "",
        "/** Kind-specific members of each record kind. */",
        "export const KIND_FIELDS = {",
    ]
    for kind, names in KIND_FIELDS.items():
        parts.append(f"    {json.dumps(kind.value)}: {json.dumps(list(names))},")
    parts += [
        "} as const;",
        "",
        "export type Slice = [number, number];",
        "",
        "/** Members every JSON record may carry. */",
        "export interface RecordBase {",
        "    k: RecordKind;",
        "    /** milliseconds since the epoch */",
        "    t: number;",
        "    tid: number | null;",
        "    hook: string;",
        "    conn?: string | null;",
        "    dir?: Direction | null;",
        "    body?: Slice | null;",
        "    olen?: number | null;",
        "    trunc?: boolean;",
        "}",
        "",
        "export interface BatchMessage {",
        '    type: "batch";',
        "    abi: number;",
        "    pid: number;",
        "    seq: number;",
        "    records: object[];",
        "    native: Slice | null;",
        "}",
        "",
    ]
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover - exercised by CI's drift check
    sys.stdout.write(render_typescript())

// Which agent this is within its process: 0 for the first script loaded into a pid, 1 after
// an exec, and so on (init config `agent`, from the session). An exec keeps the pid and the
// new image's agent counts its connections and calls from 0 again, so every id the agent
// makes from its pid carries the instance too (`agentPid`, as harness.protocol.agent_pid
// writes it): ids are unique in the run as made, and the builder, which pairs a Java call's
// request and response by (pid, call id), cannot pair calls of two images.

import { agentPid } from "./protocol.js";

let instance = 0;

export function setAgentInstance(n: number): void {
    instance = Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

export function agentInstance(): number {
    return instance;
}

/** This process's pid as the ids this agent makes write it. */
export function idPid(): string {
    return agentPid(Process.id, instance);
}

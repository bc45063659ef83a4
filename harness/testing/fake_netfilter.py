"""The fake phone's ``iptables`` / ``ip6tables``: chains of rules, answered as iptables prints.

Only what the QUIC blocker and its cleanup use: ``-N``, ``-A``, ``-I``, ``-D``, ``-F``, ``-X``,
``-S`` on the filter table, with iptables' own error texts (existing chain, missing chain,
a rule to delete that is not there, deleting a chain still jumped to). ``-S`` quotes comments
as iptables does.
"""

from __future__ import annotations

BUILTIN_TARGETS = ("DROP", "REJECT", "ACCEPT")


def netfilter(chains: dict[str, list[list[str]]], table: str,
              argv: list[str]) -> tuple[str, str, int]:
    """Run one command (``argv`` without the program name) on ``chains``: (stdout, stderr, exit)."""
    args = [a for a in argv if a != "-w"]
    if not args:
        return "", f"{table} v1.8.4 (legacy): no command specified\n", 2
    op, chain, spec = args[0], (args[1] if len(args) > 1 else ""), args[2:]
    missing = ("", f"{table}: No chain/target/match by that name.\n", 1)
    if op == "-N":
        if chain in chains:
            return "", f"{table}: Chain already exists.\n", 1
        chains[chain] = []
        return "", "", 0
    if op == "-S":
        names = [chain] if chain else list(chains)
        if any(n not in chains for n in names):
            return missing
        lines = [f"-P {n} ACCEPT" if n == "OUTPUT" else f"-N {n}" for n in names]
        lines += [f"-A {n} {render(r)}" for n in names for r in chains[n]]
        return "\n".join(lines) + "\n", "", 0
    if chain not in chains:
        return missing
    target = spec[spec.index("-j") + 1] if "-j" in spec else None
    if target is not None and target not in BUILTIN_TARGETS and target not in chains:
        return missing
    if op in ("-A", "-I"):
        chains[chain].insert(0 if op == "-I" else len(chains[chain]), spec)
    elif op == "-D":
        if spec not in chains[chain]:
            return "", (f"{table}: Bad rule (does a matching rule exist in that chain?).\n"), 1
        chains[chain].remove(spec)
    elif op == "-F":
        chains[chain].clear()
    elif op == "-X":
        if any(r[r.index("-j") + 1] == chain for rules in chains.values() for r in rules
               if "-j" in r):
            return "", f"{table}: Too many links.\n", 1
        del chains[chain]
    else:
        return "", f"{table}: unknown option {op}\n", 2
    return "", "", 0


def render(rule: list[str]) -> str:
    """A rule as ``iptables -S`` prints it: comments always in double quotes."""
    out = []
    for i, arg in enumerate(rule):
        quote = (i > 0 and rule[i - 1] == "--comment") or " " in arg or not arg
        out.append(f'"{arg}"' if quote else arg)
    return " ".join(out)

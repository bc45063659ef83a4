"""``harness cache [--json] [--clear [KIND...]]``: what the cache directory holds; clearing it."""

from __future__ import annotations

import argparse
import json
import sys
import time

from harness.cachestock import BY_NAME, KINDS, REBUILT, Entry, Stock, clear, take_stock
from harness.errors import ExitCode, UsageError

HELP = "list what the harness keeps in its cache directory, or clear it"
DESCRIPTION = f"""\
The harness keeps what it builds and parses between runs in $XDG_CACHE_HOME/egress-harness
(~/.cache/egress-harness). Without options, list it by kind: files, size, newest.

--clear removes the kinds the harness makes again when they are missing:
  {", ".join(REBUILT)}
The next capture rebuilds the agent bundle (a few seconds), the next demo recompiles the lab
browser, the next analyze compiles its needles and parses the public suffix list and tracker
table again. Temporary files younger than an hour are kept (a run may be writing them).
--clear KIND... removes only the kinds named, and is the only way to remove the two kinds that
are not rebuilt: frida-server (binaries you put there for `harness provision`) and lab-device
(the lab device's Android ID and IMEI: a new pair makes it another phone, and runs made before
no longer compare with runs made after). Files of no kind the harness writes are listed as
"other" and never removed. Clear while no run is going: a running lab browser loads its classes
from the cache.

kinds:
{chr(10).join(f"  {k.name:<13} {k.what}" for k in KINDS)}

exit codes: 0 ok, 2 an unknown kind, 4 something could not be removed

examples:
  harness cache
  harness cache --clear
  harness cache --clear hyperscan parsed
  harness cache --json
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clear", nargs="*", metavar="KIND", default=None,
                        help="remove these kinds (default: the ones the harness rebuilds)")
    parser.add_argument("--json", action="store_true",
                        help="one JSON object: {path, kinds: [{name, what, rebuilt, files, "
                        "bytes, newest}], other: [{path, bytes}], cleared: {...} with --clear}")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MiB"


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t is not None else "-"


def _newest(entries: list[Entry]) -> float | None:
    return max((e.written for e in entries), default=None)


def _table(stock: Stock) -> list[str]:
    lines = [f"cache: {stock.path}" + ("" if stock.path.is_dir() else " (does not exist)"),
             f"{'kind':<13} {'files':>5} {'size':>10}  {'newest':<16}  what"]
    total = 0
    for k in KINDS:
        entries = stock.kinds[k.name]
        size = sum(e.size for e in entries)
        total += size
        lines.append(f"{k.name:<13} {len(entries):>5} {_size(size):>10}  "
                     f"{_when(_newest(entries)):<16}  {k.what}"
                     + ("" if k.rebuilt else " [kept by --clear]"))
    if stock.other:
        size = sum(e.size for e in stock.other)
        total += size
        lines.append(f"{'other':<13} {len(stock.other):>5} {_size(size):>10}  "
                     f"{_when(_newest(stock.other)):<16}  not the harness's: never removed")
        lines += [f"  {e.path}" for e in stock.other]
    lines.append(f"{'total':<13} {'':>5} {_size(total):>10}")
    return lines


def _names(asked: list[str]) -> tuple[str, ...]:
    unknown = [n for n in asked if n not in BY_NAME]
    if unknown:
        raise UsageError(f"--clear: unknown kind {unknown[0]!r} (kinds: "
                         f"{', '.join(BY_NAME)})")
    return tuple(dict.fromkeys(asked)) or REBUILT


def _stock_json(stock: Stock) -> dict[str, object]:
    return {
        "path": str(stock.path),
        "kinds": [{"name": k.name, "what": k.what, "rebuilt": k.rebuilt,
                   "files": len(stock.kinds[k.name]),
                   "bytes": sum(e.size for e in stock.kinds[k.name]),
                   "newest": _newest(stock.kinds[k.name])} for k in KINDS],
        "other": [{"path": str(e.path), "bytes": e.size} for e in stock.other],
    }


def run(args: argparse.Namespace) -> int:
    names = _names(args.clear) if args.clear is not None else ()
    stock = take_stock()
    lines: list[str] = []
    cleared: dict[str, object] | None = None
    code = ExitCode.OK
    if args.clear is not None:
        done = clear(stock, names)
        cleared = {
            "kinds": list(names),
            "removed": [str(e.path) for e in done.removed],
            "bytes": sum(e.size for e in done.removed),
            "kept": [str(e.path) for e in done.kept],
            "failed": [{"path": str(e.path), "reason": why} for e, why in done.failed]}
        lines.append(f"cleared {', '.join(names)}: {len(done.removed)} removed "
                     f"({_size(sum(e.size for e in done.removed))})")
        if done.kept:
            lines.append(f"kept {len(done.kept)} temporary file(s) younger than an hour "
                         "(a run may be writing them)")
        lines += [f"could not remove {e.path}: {why}" for e, why in done.failed]
        lines.append("")
        if done.failed:
            code = ExitCode.ENVIRONMENT
        stock = take_stock()  # what is left
    if args.json:
        out = _stock_json(stock)
        if cleared is not None:
            out["cleared"] = cleared
        print(json.dumps(out, indent=2))
    else:
        print("\n".join(lines + _table(stock)))
    sys.stdout.flush()
    return int(code)

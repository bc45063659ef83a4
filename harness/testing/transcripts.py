"""Real-device transcripts (``harness/data/android/*.txt``) and the formats they are in.

Each transcript starts with a header of ``#`` lines saying what command printed it and where its
content came from (a public dump, a public sample, or composed in the layout of the AOSP code
that prints it), then a ``---`` line, then the output itself.
"""

from __future__ import annotations

import re
from pathlib import Path

TRANSCRIPTS = Path(__file__).resolve().parent.parent / "data" / "android"


def transcript(name: str) -> str:
    """A transcript's body: what follows its ``---`` line (the header names its source)."""
    text = (TRANSCRIPTS / name).read_text(encoding="utf-8")
    _head, sep, body = text.partition("\n---\n")
    if not sep:
        raise ValueError(f"transcript {name} has no '---' line after its source header")
    return body


def parse_getprop(text: str) -> dict[str, str]:
    props: dict[str, str] = {}
    for m in re.finditer(r"^\[([^\]]+)\]: \[(.*)\]$", text, re.M):
        props[m.group(1)] = m.group(2)
    return props


def parcel_string(value: str | None) -> str:
    """Format a String reply the way `service call` prints a Parcel (hexdump of 32-bit words)."""
    words = [0]
    if value is None:
        words.append(0xFFFFFFFF)
    else:
        units = [ord(c) for c in value] + [0]
        if len(units) % 2:
            units.append(0)
        words.append(len(value))
        words += [units[i] | (units[i + 1] << 16) for i in range(0, len(units), 2)]
    if len(words) <= 4:
        hexes = " ".join(f"{w:08x}" for w in words)
        return f"Result: Parcel({hexes} '{_gutter(words)}')\n"
    lines = []
    for off in range(0, len(words), 4):
        chunk = words[off:off + 4]
        hexes = " ".join(f"{w:08x}" for w in chunk).ljust(35)
        lines.append(f"  0x{off * 4:08x}: {hexes} '{_gutter(chunk).ljust(16)}'")
    return "Result: Parcel(\n" + "\n".join(lines) + ")\n"


def _gutter(words: list[int]) -> str:
    raw = b"".join(w.to_bytes(4, "little") for w in words)
    return "".join(chr(b) if 32 <= b < 127 else "." for b in raw)

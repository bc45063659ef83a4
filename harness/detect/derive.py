"""Derivations: the forms a value takes on the wire, each named for the finding's chain.

For base64 we derive the stable inner part of the encoding at each of the three byte
alignments, so a value inside a larger base64 blob is found without decoding the blob.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass, replace

from harness.detect.finding import Needle

_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
MIN_PATTERN = 4


@dataclass(frozen=True, slots=True)
class Pattern:
    """One form of a needle's value as the matcher looks for it."""

    needle: Needle
    derivation: str
    """``raw`` or e.g. ``base64@1``, ``sha256-hex``, ``url``."""
    value: bytes
    also: str | None = None
    """``base64url@k`` on a ``base64@k`` whose characters are the same in both alphabets (no
    '+' or '/'): the url form was dropped as these bytes, so a hit stands for either, and
    verification (findings.verified) says which one the blob around it is."""


def _b64_inner(value: bytes, shift: int, alphabet: str) -> bytes:
    """The base64 characters fully determined by value when it starts at offset ``shift``
    (mod 3) inside a larger blob."""
    enc = base64.b64encode(b"\0" * shift + value)
    if alphabet == "url":
        enc = enc.replace(b"+", b"-").replace(b"/", b"_")
    skip = {0: 0, 1: 2, 2: 3}[shift]  # characters touched by the padding bytes
    tail = (shift + len(value)) % 3  # a partial last group is not stable
    end = len(enc) - (0 if tail == 0 else 4)
    return enc[skip:end]


def derive(n: Needle) -> list[Pattern]:
    raw = n.value
    forms: dict[str, bytes] = {"raw": raw.encode()}
    forms["lower"] = raw.lower().encode()
    forms["upper"] = raw.upper().encode()
    forms["url"] = urllib.parse.quote(raw, safe="").encode()
    forms["url-plus"] = urllib.parse.quote_plus(raw, safe="").encode()
    forms["json"] = json.dumps(raw)[1:-1].encode()
    forms["json-slash"] = json.dumps(raw)[1:-1].replace("/", "\\/").encode()
    forms["json-ascii"] = json.dumps(raw, ensure_ascii=True)[1:-1].encode()
    b = raw.encode()
    for shift in range(3):
        forms[f"base64@{shift}"] = _b64_inner(b, shift, "std")
        forms[f"base64url@{shift}"] = _b64_inner(b, shift, "url")
    forms["hex"] = b.hex().encode()
    forms["HEX"] = b.hex().upper().encode()
    for algo in ("md5", "sha1", "sha256"):
        digest = hashlib.new(algo, b).digest()
        forms[f"{algo}-hex"] = digest.hex().encode()
        forms[f"{algo}-HEX"] = digest.hex().upper().encode()
        forms[f"{algo}-base64"] = base64.b64encode(digest).rstrip(b"=")
    if _MAC.match(raw):
        bare = re.sub(r"[:-]", "", raw)
        forms["mac-bare"] = bare.lower().encode()
        forms["mac-BARE"] = bare.upper().encode()
        forms["mac-dash"] = raw.replace(":", "-").lower().encode()
    forms["utf16le"] = raw.encode("utf-16-le")
    out: list[Pattern] = []
    seen: dict[bytes, int] = {}  # a kept pattern's bytes: its index in out
    for name, value in forms.items():
        if len(value) < MIN_PATTERN:
            continue
        at = seen.get(value)
        if at is None:
            seen[value] = len(out)
            out.append(Pattern(n, name, value))
        elif name.startswith("base64url@") and out[at].derivation == name.replace("url", "", 1):
            out[at] = replace(out[at], also=name)
    return out

"""Registrable domains (eTLD+1) from the public suffix list snapshot bundled in
``publicsuffixlist`` (never fetched), ICANN section only: a private suffix such as
``blogspot.com`` is a registrable domain, as browsers' cookie rules would not have it but as
an audit wants it (whose domain the host is).

The rules are read here, not by ``publicsuffixlist.PublicSuffixList``: its parser passes
every one of the ~7,000 rules through Python's ``idna`` codec, 287 M instructions (a
twentieth of a 20 MB ``harness analyze``) for the ten or so hosts a run has. This parser
keeps the same set with the codec only for the ~450 rules that are not ASCII (it returns
the others as they are): 187 M, most of it that codec. :func:`_private_suffix` is the
library's ``privatesuffix`` (tests/classify/test_domain.py compares both with the
library's own, on the bundled list).

tldextract did this before; it imports requests, urllib3 and filelock for its list updates
and builds its tries from its snapshot on first use. Both give the same answer for every
rule both snapshots hold (tests/classify/test_destinations.py)."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

import publicsuffixlist

SOURCE = (f"publicsuffixlist {publicsuffixlist.__version__} bundled public suffix list"
          " (ICANN section)")

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
"""The full stops IDNA reads as label separators (ideographic, fullwidth, halfwidth)."""

_BEGIN, _END = "// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS==="


@lru_cache(maxsize=1)
def _rules() -> tuple[frozenset[str], int]:
    """The ICANN section's rules as ``PublicSuffixList(only_icann=True)`` keeps them (each
    as written, lowercased, and its punycode spelling), and the most labels a rule has."""
    with open(publicsuffixlist.PSLFILE, "rb") as f:
        # one decode, then lines: "\n" is never inside a UTF-8 sequence, and the library's
        # per-line decode escapes the same bytes
        text = f.read().decode(publicsuffixlist.ENCODING, publicsuffixlist.ERRORMODE)
    rules: set[str] = set()
    maxlabel = 0
    icann = False
    for line in text.split("\n"):
        marker = line.rstrip()
        if marker == _BEGIN:
            icann = True
            continue
        if marker == _END:
            icann = False
            continue
        if not icann:
            continue
        s = line.lower().split(" ")[0].rstrip()
        if s == "" or s.startswith("//"):
            continue
        maxlabel = max(maxlabel, s.count(".") + 1)
        rules.add(s)
        # the idna codec returns an ASCII name as it is (or raises, as the library's parser
        # would on a broken list); "!!x" would add "!x"
        if not s.isascii() or s.startswith("!!"):
            e = s.lstrip("!").encode("idna").decode("ascii")
            rules.add("!" + e if s[0] == "!" else e)
    return frozenset(rules), maxlabel


def _private_suffix(domain: str) -> str | None:
    """``PublicSuffixList(only_icann=True, accept_unknown=False).privatesuffix(domain)``:
    the public suffix the rules give (wildcard, then exact, then exception, longest first;
    an unknown TLD has none) and one label more."""
    rules, maxlabel = _rules()
    if domain.endswith("."):
        domain = domain[:-1]
    labels = domain.lower().split(".")
    if "" in labels:
        return None
    ll = len(labels)
    publen = 0
    for depth in range(min(ll, maxlabel), 0, -1):  # no rule has more labels
        s = ".".join(labels[-depth:])
        if "!" + s in rules:  # an exception rule: its wildcard's parent is the suffix
            publen = depth - 1
            break
        if "*." + s in rules:
            # the label under the wildcard (the library has ``depth`` when that label is
            # not there: no label more either way)
            publen = depth + 1
            break
        if s in rules:
            publen = depth
            break
    if not publen or ll < publen + 1:
        return None
    return ".".join(labels[-(publen + 1):])


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def registrable_domain(host: str | None) -> str | None:
    """``sa.api.intl.miui.com`` → ``miui.com``; None for IPs, bare suffixes and unknown
    TLDs."""
    if not host or is_ip(host):
        return None
    name = host.lower().translate(_DOTS).rstrip(".")
    return _private_suffix(name) if name else None

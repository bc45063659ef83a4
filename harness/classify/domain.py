"""Registrable domains (eTLD+1) from the public suffix list snapshot bundled in
``publicsuffixlist`` (never fetched), ICANN section only: a private suffix such as
``blogspot.com`` is a registrable domain, as browsers' cookie rules would not have it but as
an audit wants it (whose domain the host is).

The rules are read here, not by ``publicsuffixlist.PublicSuffixList``: its parser passes
every one of the ~7,000 rules through Python's ``idna`` codec, 287 M instructions (a
twentieth of a 20 MB ``harness analyze``) for the ten or so hosts a run has. The codec
returns an ASCII rule as it is; the ~450 others are spelled only when a name could be their
spelling (:class:`_Rules`): 97 M, most of it reading the list's lines (callgrind).
:func:`_private_suffix` is the library's ``privatesuffix``; tests/classify/test_domain.py
compares both with the library's own, on the bundled list and on rules the codec spells
oddly.

tldextract did this before; it imports requests, urllib3 and filelock for its list updates
and builds its tries from its snapshot on first use. Both give the same answer for every
rule both snapshots hold (tests/classify/test_destinations.py)."""

from __future__ import annotations

import ipaddress
import re
import stringprep
import unicodedata
from functools import lru_cache

import publicsuffixlist

SOURCE = (f"publicsuffixlist {publicsuffixlist.__version__} bundled public suffix list"
          " (ICANN section)")

_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})
"""The full stops IDNA reads as label separators (ideographic, fullwidth, halfwidth)."""

_BEGIN, _END = "// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS==="

_IDNA_DOTS = re.compile("[.\u3002\uff0e\uff61]")
"""Where the idna codec splits a name into labels."""


def _spelled_apart(label: str) -> bool:
    """Whether the idna codec surely spells ``label`` (not ASCII) as ``xn--`` and punycode
    without a ``.``: nameprep (B.1, B.2, then NFKC of Unicode 3.2) leaves some character
    that is not ASCII (NFKC composes none into ASCII) and makes none a ``.`` (punycode
    copies the ASCII ones). What this cannot tell is spelled at once (:class:`_Rules`)."""
    other = False
    for c in label:
        if c.isascii() or stringprep.in_table_b1(c):
            continue
        mapped = unicodedata.ucd_3_2_0.normalize("NFKD", stringprep.map_table_b2(c))
        if "." in mapped:
            return False
        other = other or not mapped.isascii()
    return other


Pattern = tuple[str | None, ...]
"""A rule's labels: an ASCII one as it is (the codec keeps it), None for one it spells
``xn--``..."""


class _Rules:
    """The ICANN section's rules as ``PublicSuffixList(only_icann=True)`` keeps them: each as
    written (lowercased) and, for one that is not ASCII, its punycode spelling, which the
    library makes for each of the ~450 at ~240,000 instructions apiece. Here a rule's
    spelling is made when a name is looked up that could be it (:meth:`__contains__`): one
    with an ``xn--`` label where the rule has its Unicode one, which a run's hosts rarely
    have."""

    def __init__(self, text: str) -> None:
        self.known: set[str] = set()
        """The rules as written, and the spellings made so far."""
        self.maxlabel = 0
        """The most labels a rule has."""
        self._later: dict[tuple[str, int, str | None], list[tuple[str, Pattern]]] = {}
        """Rules not spelled yet, by (``!`` or not, label count, last label pattern)."""
        self._spelled: set[str] = set()
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
            self.maxlabel = max(self.maxlabel, s.count(".") + 1)
            self.known.add(s)
            # the codec returns an ASCII name as it is (or raises, as the library's parser
            # would on a broken list); "!!x" would add "!x"
            if not s.isascii() or s.startswith("!!"):
                self._spell_later(s)

    @classmethod
    def bundled(cls) -> _Rules:
        with open(publicsuffixlist.PSLFILE, "rb") as f:
            # one decode, then lines: "\n" is never inside a UTF-8 sequence, and the
            # library's per-line decode escapes the same bytes
            return cls(f.read().decode(publicsuffixlist.ENCODING, publicsuffixlist.ERRORMODE))

    def _spell_later(self, rule: str) -> None:
        name = rule.lstrip("!")
        labels = _IDNA_DOTS.split(name)
        if name.isascii() or not all(labels) or not all(
                label.isascii() or _spelled_apart(label) for label in labels):
            self._spell(rule)  # a name this cannot tell the spelling's labels of
            return
        pattern = tuple(label if label.isascii() else None for label in labels)
        key = ("!" if rule[0] == "!" else "", len(pattern), pattern[-1])
        self._later.setdefault(key, []).append((rule, pattern))

    def _spell(self, rule: str) -> None:
        """The library's: ``!`` kept, the codec's spelling of the rest."""
        e = rule.lstrip("!").encode("idna").decode("ascii")
        self.known.add("!" + e if rule[0] == "!" else e)
        self._spelled.add(rule)

    def __contains__(self, q: str) -> bool:
        if q in self.known:
            return True
        if not q.isascii():  # every spelling is ASCII
            return False
        bang = "!" if q.startswith("!") else ""
        labels = q[len(bang):].split(".")
        lasts = (labels[-1], None) if labels[-1].startswith("xn--") else (labels[-1],)
        for last in lasts:
            for rule, pattern in self._later.get((bang, len(labels), last), ()):
                if rule not in self._spelled and all(
                        label.startswith("xn--") if p is None else p == label
                        for p, label in zip(pattern, labels, strict=True)):
                    self._spell(rule)
        return q in self.known

    def every(self) -> frozenset[str]:
        """All of them, every spelling made (what the library's parser holds)."""
        for later in self._later.values():
            for rule, _ in later:
                if rule not in self._spelled:
                    self._spell(rule)
        return frozenset(self.known)


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    return _Rules.bundled()


def _private_suffix(domain: str, rules: _Rules | None = None) -> str | None:
    """``PublicSuffixList(only_icann=True, accept_unknown=False).privatesuffix(domain)``:
    the public suffix the rules give (wildcard, then exact, then exception, longest first;
    an unknown TLD has none) and one label more."""
    if rules is None:
        rules = _rules()
    maxlabel = rules.maxlabel
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

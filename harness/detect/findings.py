"""Findings: every needle, in every form, in every layer of every message.

One finding per (needle, message, chain). A canary's own page load (a request to the canary
site, which the scenario asked for) is a positive control: recorded with ``control=True``,
kept apart from leaks, and required by the verdicts as proof the capture could see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import count, groupby
from operator import itemgetter

from harness.detect.decoders import Budget, Decoder, b64decode
from harness.detect.derive import Pattern, derive
from harness.detect.finding import Finding, Needle, new_finding
from harness.detect.matcher import Match, Matcher
from harness.detect.rootpairs import root_label, root_pairs
from harness.needleclass import NeedleClass
from harness.parse.message import Message, MessageKind

try:  # built by setup.py with the package
    from harness.detect import _detect
except ImportError:  # pragma: no cover - a checkout that was never built
    _detect = None  # type: ignore[assignment]

CONTROL_HOSTS = frozenset({"canary.lab.test"})
"""Hosts whose loads are the scenario's own (the canary site)."""
EXCERPT = 48
NOTES_SHOWN = 5
"""A message's decoder notes kept (the budget's first, then depth limits, one per cut
layer: thousands for a hostile body); how many more there were is said after them."""


def shown_notes(lines: Sequence[str]) -> Sequence[str]:
    """The first :data:`NOTES_SHOWN` of a message's decoder notes, and how many were left."""
    if len(lines) <= NOTES_SHOWN:
        return lines
    return [*lines[:NOTES_SHOWN], f"{len(lines) - NOTES_SHOWN} more decoder notes not shown"]


Clip = tuple[bytes, bytes, bytes, bool, bool]
"""The bytes an excerpt shows: before, match, after, and whether each side was cut."""
Found = tuple[Needle, str, tuple[str, ...], str, str | None, str | None, bool, float]
"""A finding before it is numbered: needle, message id, chain, excerpt (:func:`excerpt`),
host, phase, control, time (not the message: that would hold every body to the end)."""
UNCUT = ""
"""The excerpt found.c gives a finding its message's own :func:`_most_specific` choice drops
(about half on the bench), which no caller sees: it renders one only for the kept."""


def excerpt(data: bytes, start: int, end: int, size: int = EXCERPT) -> str:
    """The excerpt of the match ``data[start:end]``: ``size`` bytes each side at most,
    rendered (:func:`render`). Made at find time, so no layer's bytes are held: found.c
    renders it (excerpt.c) for the findings the most-specific filter keeps, straight into
    the str the Finding holds (tests/detect/test_excerpt.py compares the two)."""
    return render(_clip(data, start, end, size))


def _clip(data: bytes, start: int, end: int, size: int) -> Clip:
    """The bytes :func:`excerpt` shows."""
    a, z = max(0, start - size), min(len(data), end + size)
    return data[a:start], data[start:end], data[end:z], a > 0, z < len(data)


def render(clip: Clip) -> str:
    """An excerpt from its bytes: each part decoded, and escaped (:func:`_escaped`) where
    it is not all printable; the three parts checked in one call, since most are
    (tests/detect/test_found.py compares it with each part shown alone)."""
    before, match, after, cut_before, cut_after = clip
    b = before.decode("utf-8", "replace")
    m = match.decode("utf-8", "replace")
    a = after.decode("utf-8", "replace")
    if not (b.isprintable() and m.isprintable() and a.isprintable()):
        b, m, a = _escaped(b), _escaped(m), _escaped(a)
    return f"{'…' if cut_before else ''}{b}[[{m}]]{a}{'…' if cut_after else ''}"


def _escaped(text: str) -> str:
    """Characters that are not printable as ``\\x..`` below U+0100 (others stay): a
    printable text is itself."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 256 else c
                   for c in text)


_B64_SKIP = {0: 0, 1: 2, 2: 3}
"""Characters of the first base64 group a value's bytes share with the bytes before it, by
the value's alignment (as :func:`harness.detect.derive._b64_inner` drops them)."""
_BLOB = re.compile(rb"[A-Za-z0-9]*(?:[+/][A-Za-z0-9+/]*|[_-][A-Za-z0-9_-]*)?")
"""The characters of a blob in one alphabet: the first character that is not in both names
it ('+' or '/' standard, '-' or '_' url-safe), and the blob ends before the first that is not
in it (its padding, or whatever a raw body has after it: a standard blob's groups do not take
in a '-x' after them). b64.c's b64_blob is the same in C."""


def verified(hit: Match, data: bytes) -> str | None:
    """The derivation a hit stands for, None for a hit refused. A base64 derivation matches
    only the characters the value fully determines; its first and last one or two bytes sit
    in groups shared with neighbours. Decode the whole groups around the hit and require the
    exact value there, or a near miss in the last byte would pass. The groups end where the
    blob does (:data:`_BLOB`): at its padding, at the bytes of the layer after it (a blob
    ending in an unpadded partial group, in a raw body that goes on), or at a character of
    the other alphabet than the one the groups' first '+', '/', '-' or '_' named (a standard
    blob followed by '-x'). Bits that are not whole bytes are dropped by the decoding, so
    characters cut short of the value's last byte leave it undecoded, and the hit is refused:
    so is a value whose groups mix the alphabets, which no encoder writes. A '-' or '_' in a
    standard pattern's groups says the blob is url-safe: accepted where the pattern also
    stands for that alphabet (:attr:`Pattern.also`), and the chain then names it. Where the
    value's own characters name no alphabet, the first that does after them in its last
    group decides (a url-safe blob's next byte often puts its only '-' or '_' there)."""
    p = hit.pattern
    if not p.derivation.startswith("base64"):
        return p.derivation  # most hits: the partition below would say the same
    kind, _, at = p.derivation.partition("@")
    if kind not in ("base64", "base64url") or not at.isdigit():
        return p.derivation
    shift, value = int(at), p.needle.value.encode()
    begin = hit.start - _B64_SKIP[shift]
    need = 4 * -(-(shift + len(value)) // 3)
    blob = _BLOB.match(data, begin, begin + need) if begin >= 0 else None
    chunk = blob.group() if blob is not None else b""
    plain = b64decode(chunk)  # of one alphabet: which one is asked below
    if plain is None or plain[shift:shift + len(value)] != value:
        return None
    if kind == "base64" and (b"-" in chunk or b"_" in chunk):
        return p.also  # only the url-safe alphabet reads these: its derivation, if it has one
    return p.derivation


def is_control(m: Message, needle: Needle) -> bool:
    return needle.cls == NeedleClass.BROWSING and _controls(m)


def _controls(m: Message) -> bool:
    """is_control's part that is the message's (the C loop asks it once a message)."""
    return m.kind == MessageKind.REQUEST and (m.host or "") in CONTROL_HOSTS


def _plan(patterns: Sequence[Pattern]) -> tuple[tuple[object, ...], ...]:
    """What the C loop (found.c) needs of each pattern, by the Scanner's ids: the needle,
    its name, the chain's "derive:" step (None for raw), whether the needle is a browsing
    one, and what :func:`verified` checks of a base64 derivation (None for any other): the
    shift, the characters skipped, the alphabet, the value, and the "derive:" step of the
    url-safe derivation it also stands for (:attr:`Pattern.also`) or None."""
    plan: list[tuple[object, ...]] = []
    for p in patterns:
        kind, _, at = p.derivation.partition("@")
        check = ((int(at), _B64_SKIP[int(at)], kind == "base64url", p.needle.value.encode(),
                  None if p.also is None else f"derive:{p.also}")
                 if kind in ("base64", "base64url") and at.isdigit() else None)
        plan.append((p.needle, p.needle.name, None if p.derivation == "raw"
                     else f"derive:{p.derivation}", p.needle.cls == NeedleClass.BROWSING, check))
    return tuple(plan)


def find(messages: Iterable[Message], needles: Sequence[Needle],
         transforms: Mapping[bytes, tuple[str, bytes]] | None = None,
         notes: list[str] | None = None, compiled: bool = True) -> list[Finding]:
    """The findings in ``messages``, numbered ``f1``... in the order found.
    ``compiled=False`` runs the Python decoder and python-hyperscan's scan only (the C ones
    give the same findings; tests compare them)."""
    return numbered(by_message(find_unnumbered(((m,) for m in messages), needles, transforms,
                                               notes, compiled)))


def by_message(found: Iterable[Found]) -> list[tuple[str, list[Found]]]:
    """The findings in runs of one message's, with its id (a message's findings come one
    after another, so a run is a message's unless a message id comes twice)."""
    return [(mid, list(run)) for mid, run in groupby(found, itemgetter(1))]


def numbered(runs: Iterable[tuple[str, Iterable[Found]]]) -> list[Finding]:
    """Findings ``f1``... in the order given, each under the message id given with its run
    (:func:`by_message`). Positional: a Finding's fields in order (a keyword call costs
    twice as much, per finding)."""
    ids, make = count(1), new_finding
    return [make(f"f{next(ids)}", n.name, n.cls, host, phase, mid, chain, text, control, t)
            for mid, run in runs for n, _, chain, text, host, phase, control, t in run]


def find_unnumbered(batches: Iterable[Sequence[Message]], needles: Sequence[Needle],
                    transforms: Mapping[bytes, tuple[str, bytes]] | None = None,
                    notes: list[str] | None = None, compiled: bool = True,
                    spans: list[tuple[str, int, int]] | None = None) -> list[Found]:
    """:func:`find`'s findings before they are numbered: for a caller that numbers them
    its own way (harness analyze, in the store's order), which
    then makes each Finding once. The messages come in batches (harness analyze's are a
    connection's each), a message's findings one after another. With ``notes``, each
    message's notes start with its id; with ``spans`` too, (id, first, end) of each stretch
    of ``notes`` a message got (one or two a message, in order)."""
    patterns = [p for n in needles for p in derive(n)]
    matcher = Matcher(patterns, compiled)
    # The C walk and one()'s loop over the matches in C (found.c), where it is built: made
    # once, not for every message. Where it hands back (a note to write, JSON it cannot walk
    # exactly), the Python walk runs with a Decoder and Budget of the message's own.
    hooks = Decoder(transforms).hooks(matcher.scan) if compiled else None
    plan = _plan(matcher.patterns) if hooks is not None else ()
    found: list[Found] = []
    # every finding's (needle name, message id, chain), to drop one found again: needed
    # only once a message id has come twice (live), made from found then. Until then only a
    # message's own findings can have its keys, which the C loop checks among them alone
    # (found.c, seen None): a key tuple hashed into one set for every finding of the run
    # was most of what a finding cost there.
    seen: set[tuple[str, str, tuple[str, ...]]] = set()
    live = hooks is None
    # whether _most_specific keeps each finding, worked out for each message as it is done
    # (in C with the rest); valid only while no two messages share an id (its groups are
    # by needle and message id), else _most_specific runs over them all. Every message's id
    # counts, scanned or not: a repeat among those the detector skips only sends it to
    # _most_specific, which gives the same when no scanned id repeats.
    keep: list[bool] = []

    def note(mid: str, lines: Sequence[str]) -> None:
        """A message's notes, each after its id, and their span (``spans``)."""
        assert notes is not None
        first = len(notes)
        notes.extend(f"{mid}: {n}" for n in lines)
        if spans is not None:
            spans.append((mid, first, len(notes)))

    def one(m: Message, roots: list[tuple[tuple[str, ...], bytes]] | None = None) -> None:
        """The loop's step for one message; with ``roots``, the walk in Python only (the C
        loop wrote its notes, made its roots, and its C walk handed back)."""
        mine = seen if live else set()  # until an id comes twice, this message's keys
        if roots is None:
            if notes is not None and m.notes:
                # what the parser could not do (a body cut at its budget, a truncated
                # stream, malformed frames) belongs with what the detector could not do
                note(m.id, m.notes)
            if m.direction != "out":
                return  # what the app received is not what it sent
            if m.links and m.meta.get("stack"):
                return  # a Java HTTP stack record also seen on the wire: cite the wire one
            roots = root_pairs(m, compiled)
            if hooks is not None and _detect.find(
                    roots, hooks, plan, EXCERPT, (m.id, m.host, m.phase, _controls(m), m.t),
                    found, seen if live else None, keep):
                return
        start = len(found)
        decoder = Decoder(transforms, Budget())
        for chain_, data, hits in decoder.matched(roots, matcher.scan):
            for hit in hits:
                derivation = verified(hit, data)
                if derivation is None:
                    continue
                n = hit.pattern.needle
                chain = chain_ if derivation == "raw" else (*chain_, f"derive:{derivation}")
                key = (n.name, m.id, chain)
                if key in mine:
                    continue
                mine.add(key)
                found.append((n, m.id, chain, excerpt(data, hit.start, hit.end), m.host,
                              m.phase, is_control(m, n), m.t))
        if hooks is not None:
            keep.extend(_kept(found[start:]))
        if notes is not None and decoder.budget.notes:
            note(m.id, shown_notes(decoder.budget.notes))

    if hooks is None:
        for batch in batches:
            for m in batch:
                one(m)
        return _most_specific(found)
    # the loop in C (findbatch.c), for every message (245,000 on the 200 MB bench run):
    # it hands back the few it leaves to one(); test_findbatch.py compares the two
    ids = _detect.Ids()  # every message's id: whether one came twice (len(), as a set's)
    n_ids = 0
    how = (Message, MessageKind.REQUEST, CONTROL_HOSTS, root_label, hooks, plan, EXCERPT)
    into: tuple[object, ...] = (found, None, keep, ids, notes, spans)
    for batch in batches:
        at = 0
        while (back := _detect.find_batch(batch, at, how, into)) is not None:
            at, roots = back
            if not live and len(ids) != n_ids + at + 1:
                # batch[at]'s id came before (the C loop stops there while seen is None)
                live = True
                seen.update((f[0].name, f[1], f[2]) for f in found)
                into = (found, seen, keep, ids, notes, spans)
            one(batch[at], roots)
            at += 1
        n_ids += len(batch)
    return (_most_specific(found) if len(ids) != n_ids
            else [f for f, k in zip(found, keep, strict=True) if k])


def _most_specific(found: list[Found]) -> list[Found]:
    """Drop a finding whose chain is a strict prefix of another's for the same needle and
    message: the deeper chain says the same thing, and more exactly."""
    return [f for f, k in zip(found, _kept(found), strict=True) if k]


def _kept(found: list[Found]) -> list[bool]:
    """Whether :func:`_most_specific` keeps each finding. found.c does the same for one
    message's findings."""

    def layer(chain: tuple[str, ...]) -> tuple[str, ...]:
        # a derived form (url-encoded, escaped) matched in a layer that a decoder also
        # opened: the decoded finding below it is the same location, said better
        chain = chain[:-1] if chain and chain[-1].startswith("derive:") else chain
        # a query parameter is part of the URL: ``query:id`` is below ``url``
        if len(chain) >= 2 and chain[1].startswith("query:"):
            return (chain[0], "url", *chain[1:])
        return chain

    layers = [layer(f[2]) for f in found]
    groups: dict[tuple[str, str], list[tuple[str, ...]]] = {}
    for f, lf in zip(found, layers, strict=True):
        groups.setdefault((f[0].name, f[1]), []).append(lf)

    def has_below(group: list[tuple[str, ...]], lf: tuple[str, ...]) -> bool:
        n = len(lf)
        return any(len(lc) > n and lc[:n] == lf for lc in group)

    return [len(group := groups[(f[0].name, f[1])]) == 1 or not has_below(group, lf)
            for f, lf in zip(found, layers, strict=True)]

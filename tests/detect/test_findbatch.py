"""find_unnumbered's loop in C (harness/detect/findbatch.c) against the Python loop it
replaced, run with compiled=False: the same findings, notes and spans for generated batches
of messages (ids that repeat, parser notes, messages in and out, Java stack records with
links, control hosts, every kind, URLs and fields the C loop leaves to Python, bodies whose
C walk hands back); and what it leaves to the Python loop, and how."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.detect import _detect
from harness.detect.decoders import Decoder
from harness.detect.derive import derive
from harness.detect.findings import (
    CONTROL_HOSTS,
    EXCERPT,
    Found,
    _plan,
    find_unnumbered,
)
from harness.detect.matcher import Matcher
from harness.detect.rootpairs import root_label
from harness.parse.message import Message, MessageKind
from tests.detect.test_expand import NEEDLES, bodies, headers
from tests.detect.test_found import aligned, odd_headers
from tests.detect.test_roots import urls

ID = NEEDLES[0].value


def _deep() -> bytes:
    """A value nested past the depth limit: the C walk hands back, the Python one notes it."""
    deep = ID.encode()
    for _ in range(12):
        deep = base64.b64encode(b"some text " + deep)
    return deep


DEEP = _deep()
CONTROL = next(iter(CONTROL_HOSTS))


class Sub(Message):
    """A Message of another class: the C loop leaves it to Python."""

    __slots__ = ()


def message(mid: str, kind: MessageKind | str, direction: str, links: tuple[str, ...],
            meta: dict[str, Any], notes: tuple[str, ...], host: str | None, ip: str | None,
            method: str | None, url: str | None, hs: Any, body: bytes, sub: bool) -> Message:
    return (Sub if sub else Message)(
        id=mid, kind=kind, t=1.5, direction=direction, source="native.tls", phase="p",  # type: ignore[arg-type]
        host=host, ip=ip, method=method, url=url, headers=hs, body=body, links=links,
        meta=meta, notes=notes, status=200, sdk=None)


texts = st.sampled_from(["body cut at its budget", "é 2", "\udce9"])
messages = st.builds(
    message, st.sampled_from(["k1", "k2", "k3", "k4", "k5"]),
    st.sampled_from([*MessageKind, "request"]),
    st.sampled_from(["out", "out", "in"]),
    st.sampled_from([(), ("k9",)]),
    st.sampled_from([{}, {"stack": "okhttp3"}, {"stack": ""}, {"stack": 0}, {"x": 1}]),
    st.lists(texts, max_size=2).map(tuple),
    st.sampled_from(["sa.lab.test", CONTROL, "", None, "é.lab.test"]),
    st.sampled_from([None, "10.0.0.1", ""]),
    st.sampled_from([None, "", "POST", "GET"]),
    urls | st.sampled_from([None, "https://sa.lab.test/i?id=" + ID,
                            "https://canary.lab.test/c/cnry42?q=qz%D0%BA", "http://[::1"]),
    headers | odd_headers | st.just([("X-Id", ID)]),
    bodies | aligned | st.just(DEEP),
    st.sampled_from([False, False, False, True]))


def run(batches: list[list[Message]], compiled: bool, with_notes: bool = True
        ) -> tuple[list[Found], list[str] | None, list[tuple[str, int, int]] | None]:
    notes: list[str] | None = [] if with_notes else None
    spans: list[tuple[str, int, int]] | None = [] if with_notes else None
    found = find_unnumbered(iter(batches), NEEDLES, None, notes, compiled, spans)
    return found, notes, spans


def same(batches: list[list[Message]]) -> None:
    for with_notes in (True, False):
        assert run(batches, True, with_notes) == run(batches, False, with_notes)


def distinct(batches: list[list[Message]]) -> list[list[Message]]:
    """The messages with ids that do not repeat: the C loop's seen stays None throughout
    (found.c checks a message's keys among its own findings only)."""
    ids = iter(range(1000))
    return [[dataclasses.replace(m, id=f"u{next(ids)}") for m in b] for b in batches]


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(messages, max_size=4), min_size=1, max_size=3).flatmap(
    lambda b: st.sampled_from([b, distinct(b)])))
@example([[message("k1", MessageKind.REQUEST, "out", (), {}, ("cut",), "sa.lab.test", None,
                   "POST", "https://sa.lab.test/p?id=" + ID, (), DEEP, False),
           message("k2", MessageKind.RESPONSE, "in", (), {}, ("bad frame",), "sa.lab.test",
                   None, None, None, (), ID.encode(), False)],
          [message("k1", MessageKind.REQUEST, "out", ("k3",), {"stack": "okhttp3"}, (),
                   "sa.lab.test", None, "POST", "https://sa.lab.test/p", (), b"", False)]])
def test_generated_batches_give_what_the_python_loop_gives(
        batches: list[list[Message]]) -> None:
    same(batches)


def test_a_repeated_id_among_skipped_messages() -> None:
    """Ids that repeat send the findings through _most_specific over them all: a skipped
    message's id counts as the Python loop's did, and a scanned one's most of all (the
    second message's finding is below the first's: only it is kept)."""
    value = ID.encode()
    first = message("k1", MessageKind.REQUEST, "out", (), {}, (), "sa.lab.test", None, "POST",
                    "https://sa.lab.test/p", (), value, False)
    below = dataclasses.replace(first, body=b'{"a": "' + value + b'"}')
    skipped = dataclasses.replace(first, direction="in")
    for batches in ([[first, below]], [[first], [below]], [[first, skipped]], [[first], [skipped]]):
        same(batches)
    assert [f[2][1:] for f in run([[first], [below]], True)[0]] == [("json:$.a",)]


def test_keys_found_again_in_one_message() -> None:
    """A message's findings whose key (needle, chain) comes again: headers of one name, the
    value twice in a layer (and another needle's between), in its base64 forms, more
    findings than foundkeys.c's table starts with (it grows); with no id repeated (seen
    None), then with the ids repeated before and after (seen made from found, then kept)."""
    value = ID.encode()
    hs = tuple((f"X-{i % 20}", f"{ID} {NEEDLES[1].value} {ID}") for i in range(40))
    forms = [ID, base64.b64encode(value).decode(),
             base64.urlsafe_b64encode(b"\xfb" + value).decode()]
    body = json.dumps({"a": forms, "b": [forms, forms], "c": " ".join(forms * 2)}).encode()
    ms = [message(f"k{i}", MessageKind.REQUEST, "out", (), {}, (), "sa.lab.test", None, "POST",
                  f"https://sa.lab.test/p?id={ID}&id={ID}&x={i}", hs, body, False)
          for i in range(3)]
    again = [dataclasses.replace(m, id="k1") for m in ms]
    for batches in ([ms], [ms[:1], ms[1:]], [ms, again], [again[:1], ms, again[1:]]):
        same(batches)
    found = run([ms], True)[0]
    assert len({f[1] for f in found}) == 3
    assert len(found) == len({(f[0].name, f[1], f[2]) for f in found}) > 3 * 32


def _loop(ms: list[Message], start: int = 0, budget: tuple[int, int] | None = None
          ) -> tuple[Any, list[Found], _detect.Ids, list[str]]:
    """find_batch on ms from start; budget: (max_layers, max_bytes) for the walk's hooks."""
    matcher = Matcher([p for n in NEEDLES for p in derive(n)])
    hooks = Decoder().hooks(matcher.scan)
    assert hooks is not None
    if budget is not None:
        hooks = (*hooks[:4], *budget, hooks[6])
    found: list[Found] = []
    ids = _detect.Ids()
    notes: list[str] = []
    how = (Message, MessageKind.REQUEST, CONTROL_HOSTS, root_label, hooks,
           _plan(matcher.patterns), EXCERPT)
    back = _detect.find_batch(ms, start, how, (found, set(), [], ids, notes, []))
    return back, found, ids, notes


def test_what_is_left_to_the_python_loop() -> None:
    """Not a loop that passes by handing everything back: requests and responses are done
    in C, and what is handed back is handed back at the message it concerns, with its id
    counted, and its notes written only where its roots were made."""
    def req(mid: str, **kw: Any) -> Message:
        m = message(mid, MessageKind.REQUEST, "out", (), {}, ("n",), "sa.lab.test", None,
                    "POST", "https://sa.lab.test/p?id=" + ID, (("X-Id", ID),), b"", False)
        return dataclasses.replace(m, **kw)

    done = [req("k1"), req("k2", kind=MessageKind.RESPONSE, direction="in"),
            req("k3", kind=MessageKind.WS_FRAME, body=ID.encode()),
            req("k6", host=CONTROL, url="https://canary.lab.test/c/cnry42", headers=())]
    back, found, ids, notes = _loop(done)
    assert back is None
    assert len(ids) == 4
    assert all(i in ids for i in ("k1", "k2", "k3", "k6"))
    assert notes == ["k1: n", "k2: n", "k3: n", "k6: n"]
    steps = [("url",), ("query:id",), ("header:x-id",)]
    assert [(f[1], f[2], f[6]) for f in found] == [
        *(("k1", ("http:POST sa.lab.test/p", *s), False) for s in steps),
        *(("k3", ("ws-frame:native.tls sa.lab.test", *s), False) for s in [*steps, ()]),
        ("k6", ("http:POST canary.lab.test/c/cnry42", "url"), True)]
    for odd in (req("k4", url="https://sa.lab.test/é"), req("k4", headers=[("X", "y")]),
                req("k4", kind="request"), Sub(**{f.name: getattr(req("k4"), f.name)
                                                  for f in dataclasses.fields(Message)})):
        back, found, ids, notes = _loop([req("k1"), odd, req("k5")], 1)
        assert back == (1, None), odd
        assert (found, len(ids), "k4" in ids, notes) == ([], 1, True, []), odd
    back, found, ids, notes = _loop([req("k1"), req("k4", body=DEEP)], 1)
    assert back is not None
    assert back[0] == 1
    assert back[1] is not None
    assert [chain for chain, _ in back[1]] == [
        ("http:POST sa.lab.test/p", s) for s in ("url", "query:id", "header:x-id")] + [
        ("http:POST sa.lab.test/p",)]
    assert (found, len(ids), "k4" in ids, notes) == ([], 1, True, ["k4: n"])


def test_the_budget_is_each_messages() -> None:
    """The walk's budget (layers, bytes) is spent per message: the loop keeps the walk's
    buffers from one message to the next (expand.c's walk_reset), not what it spent. Each
    message here spends more than half of a small budget, and none is handed back."""
    body = json.dumps({"a": "v" * 3000, "b": ID}).encode()  # two layers, ~3,000 bytes
    ms = [message(f"k{i}", MessageKind.REQUEST, "out", (), {}, (), "sa.lab.test", None, "POST",
                  "https://sa.lab.test/p", (), body, False) for i in range(3)]
    for budget in ((3, 5000), (5000, 5000)):
        back, found, _, _ = _loop(ms, 0, budget)
        assert back is None, budget
        assert [f[2][1:] for f in found] == [(), ("json:$.b",)] * 3, budget


class Text(str):
    """A str subclass: equal to the str of its text, which Ids must see."""

    __slots__ = ()


class Like:
    """An id that says it is equal to "k1" (and hashes as it does)."""

    def __eq__(self, other: object) -> bool:
        return other == "k1"

    def __hash__(self) -> int:
        return hash("k1")


ids_seen = st.sampled_from([
    "k0", "k1", "k01", "k00", "k", "K1", "k1 ", " k1", "k-1", "k+1", "k١", "k1.0", "u1", "",
    "k67108863", "k67108864", "k99999999", "k100000000", "k12345678901234567890", "m1", 1,
    ("k1",)]) | st.integers(0, 70000).map(lambda k: f"k{k}")


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(ids_seen | st.sampled_from([Text("k1"), Text("k5"), Like(), Text("x")]),
                max_size=40))
@example(["k1", "k70000", Text("k1"), "k70000", "k1", "k2"])
@example(["k1", Like(), "k2"])
def test_ids_count_as_a_set_does(seq: list[object]) -> None:
    """Ids (findbatch.c) against a set: each add says whether the id was new, len() how many
    differ, `in` whether one came; key ids in its bitmap (up to its bound, and on past its
    first size), the others in its set, and all of them there from the first id that is not
    an exact str (a str subclass equal to a key id, an object equal to one)."""
    ids, ref = _detect.Ids(), set()
    for i in seq:
        assert ids.add(i) == (i not in ref), i
        ref.add(i)
        assert len(ids) == len(ref)
    assert all(i in ids for i in ref)
    assert ("k3" in ids) == ("k3" in ref)
    assert ("k70001" in ids) == ("k70001" in ref)
    for other in (Text("k1"), Like(), Text("k70001")):  # asked, never added: equal to a key id
        assert (other in ids) == (other in ref), other

"""The batch loop's memo of roots walked to nothing (harness/detect/expand.c, walk_roots): a
root whose bytes object matched nothing, opened no decoder and spent no budget is not walked
again when the same object comes back (header values do, as roots.c's cache makes them).
Batches whose messages share header values of every kind give the Python loop's findings
and notes; a value that did spend budget is walked again, whatever the budget left."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.parse.message import MessageKind
from tests.detect.test_expand import bodies
from tests.detect.test_findbatch import ID, _loop, message, same

# header values, each one str object for the whole batch (as the parsers give them)
VALUES = [
    "okhttp/4.9.0", "application/json", "1062",  # nothing
    ID, "id " + ID + " here",  # a match
    base64.b64encode(("id: " + ID + " and text").encode()).decode(),  # a match, decoded
    base64.b64encode(b"plain text, no needle in it at all").decode(),  # a layer, no match
    json.dumps({"a": "value long enough to be kept", "b": "short"}),  # a skipped document
    json.dumps({"a": "short"}), "{}",  # JSON with no leaf kept
    "k=v&id=" + ID, "\x08\x96\x01 protobuf-ish", "x^ not zlib",  # a form, bbpb, a hand-back
]


def request(mid: str, hs: tuple[tuple[str, str], ...], body: bytes, query: str = "?q=1"
            ) -> object:
    return message(mid, MessageKind.REQUEST, "out", (), {}, (), "sa.lab.test", None, "POST",
                   "https://sa.lab.test/p" + query, hs, body, False)


def _copy(s: str) -> str:
    """An equal str, another object (whose bytes roots.c makes anew)."""
    return (s + ".")[:-1]


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.lists(st.tuples(st.lists(st.tuples(st.sampled_from(range(len(VALUES))),
                                                      st.booleans()), max_size=4),
                                   st.sampled_from(["", "?q=1", "?q=" + ID, "?a=b&q=1"]),
                                   bodies), max_size=6), min_size=1, max_size=3))
def test_batches_sharing_header_values_give_what_the_python_loop_gives(
        spec: list[list[tuple[list[tuple[int, bool]], str, bytes]]]) -> None:
    # each value the same object, or an equal one (walked again)
    names = ("X-A", "User-Agent", "Cookie")
    batches = [[request(f"k{b}-{i}", tuple((names[j % 3], VALUES[v] if kept else _copy(VALUES[v]))
                                           for j, (v, kept) in enumerate(vs)), body, query)
                for i, (vs, query, body) in enumerate(batch)]
               for b, batch in enumerate(spec)]
    same(batches)  # type: ignore[arg-type]


def test_a_value_that_spent_budget_is_walked_again() -> None:
    """A header whose base64 decodes to text without a match takes a layer of the budget:
    the second message's, where it leaves none for the body's leaf, is handed back (the
    Python walk's note), as it would be were the header walked again; not so were it taken
    for one walked to nothing."""
    text = base64.b64encode(b"plain text, no needle in it at all").decode()
    leaf = json.dumps({"b": ID + " and a tail"}).encode()
    ms = [request("k1", (("X-A", text),), b""), request("k2", (("X-A", text),), leaf)]
    back, found, _, _ = _loop(ms, 0, (1, 64 << 20))  # type: ignore[arg-type]
    assert back is not None
    assert back[0] == 1
    # with room for both, the second message is done in C, the body's findings with it
    back, found, _, _ = _loop(ms, 0, (2, 64 << 20))  # type: ignore[arg-type]
    assert back is None
    assert [f[2][1:] for f in found] == [(), ("json:$.b",)]  # the body, its leaf

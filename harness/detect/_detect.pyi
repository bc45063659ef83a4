from collections.abc import Callable, Sequence
from typing import Any, Generic, Literal, TypeVar

_T = TypeVar("_T")
_M = TypeVar("_M")

class Scanner(Generic[_T, _M]):
    """A compiled Hyperscan database of byte patterns (scanner.c)."""
    def __init__(self, values: Sequence[bytes], tags: Sequence[_T],
                 make: Callable[[_T, int, int], _M], /) -> None: ...
    def scan(self, data: bytes, /) -> list[_M]: ...

def leaves(data: bytes, min_leaf: int, hot: tuple[bytes, ...] | None, /
           ) -> list[tuple[str, bytes, bool]] | Literal[False] | None: ...

# the matches are what hooks[0] (scan) returned; a Scanner's own scan is run in C
def expand(roots: list[tuple[tuple[str, ...], bytes]], hooks: tuple[object, ...], /
           ) -> list[tuple[tuple[str, ...], bytes, list[Any]]] | Literal[False]: ...

# plan, msg and found as findings._plan, find and _Found say, seen None while no message id
# has come twice; True when done, False where expand() would give False (nothing appended
# or added then)
def find(roots: list[tuple[tuple[str, ...], bytes]], hooks: tuple[object, ...],
         plan: tuple[tuple[object, ...], ...], excerpt: int, msg: tuple[object, ...],
         found: list[Any], seen: set[Any] | None, keep: list[bool], /) -> bool: ...

# how: (Message, MessageKind.REQUEST, CONTROL_HOSTS, root_label, hooks, plan, excerpt);
# into: (found, seen, keep, ids, notes, spans), seen None while no id has come twice (the
# loop stops at one that does); None when the batch is done, else the index of the message
# left to the Python loop and its roots (None: all of it left)
def find_batch(batch: Sequence[Any], start: int, how: tuple[object, ...],
               into: tuple[object, ...], /
               ) -> tuple[int, list[tuple[tuple[str, ...], bytes]] | None] | None: ...

def roots(url: str, head: str, with_path: bool, headers: tuple[tuple[str, str], ...],
          body: bytes, /) -> list[tuple[tuple[str, ...], bytes]] | None: ...

def b64decode(data: bytes, /) -> bytes | None: ...

def plausible(data: bytes, /) -> bool: ...

def printable(data: bytes, /) -> float: ...

def protobuf_may(data: bytes, /) -> bool: ...

def protobuf_hazard(data: bytes, /) -> bool: ...

def unquote(data: bytes, /) -> bytes: ...

def java_hash(s: str, /) -> int: ...

def form(data: bytes, /) -> list[tuple[tuple[str, ...], bytes]] | None: ...

import weakref
from collections.abc import Callable
from typing import TypeVar

from harness.detect.finding import Finding
from harness.parse.message import Message, MessageKind

_A = TypeVar("_A")

class Adder:
    def __init__(self, accs: dict[str, _A], below: dict[str, _A], message: type[Message],
                 acc: type[_A], kind: type[MessageKind], network: frozenset[MessageKind],
                 reference: weakref.WeakMethod[Callable[[Message], None]], /) -> None: ...
    def add(self, m: Message, /) -> None: ...

def verified_sdks(findings: list[Finding], finding: type[Finding], sensors_crc: str,
                  sensors_wire: str, mixpanel: str, /) -> dict[str, str] | None: ...
def sdks_at_ids(lists: list[list[str]], sdk_of: dict[str, str], /) -> list[list[str]] | None: ...

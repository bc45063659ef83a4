from collections.abc import Callable

from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow

def setup(draft: type[Draft], request: MessageKind, response: MessageKind, raw: MessageKind,
          finish_body: Callable[[Draft, bytes, int], None], max_head: int, /) -> None: ...
def parse_requests(flow: Flow, start: int, facts: ConnFacts, budget: int,
                   /) -> tuple[list[Draft], list[Draft], Draft | None, int]: ...
def parse_responses(flow: Flow, start: int, requests: list[Draft], facts: ConnFacts,
                    budget: int, until: Draft | None,
                    /) -> tuple[list[Draft], Draft | None, int]: ...

from harness.parse.draft import Draft
from harness.parse.message import MessageKind
from harness.parse.reassembly import ConnFacts, Flow

class HPACKError(ValueError): ...

class Inflater:
    def __init__(self, max_table_size: int, max_list_size: int) -> None: ...
    def decode(self, block: bytes, /) -> list[tuple[bytes, bytes]]: ...

def setup(draft: type[Draft], request: MessageKind, response: MessageKind, raw: MessageKind,
          /) -> None: ...

def read_frames(flow: Flow, facts: ConnFacts, kind: MessageKind, start: int,
                starts: list[int], seqs: list[int], peers: dict[int, Draft],
                max_table_size: int, max_block: int, budget: int,
                /) -> tuple[list[Draft], list[tuple[Draft, int]], list[str]]: ...

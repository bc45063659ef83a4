from harness.protocol import JSON

class HPACKError(ValueError): ...

class Inflater:
    def __init__(self, max_table_size: int, max_list_size: int) -> None: ...
    def decode(self, block: bytes, /) -> list[tuple[bytes, bytes]]: ...

_Record = tuple[int, int, str] | tuple[
    int, int, list[str] | None, list[tuple[str, str]] | None, int | None, str | None,
    str | None, str | None, list[JSON] | None, list[JSON] | None, bytes,
    tuple[int, ...], bool, bool, int]

def read_frames(data: bytes, start: int, starts: list[int], seqs: list[int],
                direction: str, scheme: str,
                sni: str | None, ip: str | None, max_table_size: int, max_block: int,
                /) -> tuple[list[_Record], list[str]]: ...

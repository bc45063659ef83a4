from typing import Any, Literal

def leaves(data: bytes, min_leaf: int, hot: tuple[bytes, ...] | None, /
           ) -> list[tuple[str, bytes, bool]] | Literal[False] | None: ...

# the matches are what hooks[0] (scan) returned
def expand(roots: list[tuple[tuple[str, ...], bytes]], hooks: tuple[object, ...], /
           ) -> list[tuple[tuple[str, ...], bytes, list[Any]]] | Literal[False]: ...

def java_hash(s: str, /) -> int: ...

from typing import Literal

def leaves(data: bytes, min_leaf: int, hot: tuple[bytes, ...] | None, /
           ) -> list[tuple[str, bytes, bool]] | Literal[False] | None: ...

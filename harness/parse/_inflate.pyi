STEP: int
MEMBERS: int

def stream(data: bytes, wbits: int, budget: int, step: int, members: int,
           /) -> tuple[bytes, bool, bool]: ...

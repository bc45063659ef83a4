from collections.abc import Callable, Sequence
from typing import overload

from harness.detect.finding import Finding
from harness.detect.findings import Found

def findings_json(findings: Sequence[Finding], finding: type[Finding],
                  line: Callable[[Finding], str], /) -> bytes: ...
def float_repr(x: float, /) -> str: ...
@overload
def numbered_in_order(found: list[Found], numbers: list[int], finding: type[Finding],
                      names: list[str | None] | None, /) -> list[Finding] | None: ...
# with line: the Findings and findings_json(findings, finding, line)'s bytes; with write
# too, the text given to write a megabyte at a time (a memoryview, released after the call)
# and the bytes its rest
@overload
def numbered_in_order(found: list[Found], numbers: list[int], finding: type[Finding],
                      names: list[str | None] | None, line: Callable[[Finding], str],
                      write: Callable[[memoryview], object] = ..., /
                      ) -> tuple[list[Finding], bytes] | None: ...
def renumbered_all(lists: list[list[str]], numbers: list[int], names: list[str | None] | None,
                   /) -> list[list[str]] | None: ...
def json_indented(obj: object, /) -> bytes | None: ...

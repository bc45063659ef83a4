from collections.abc import Callable, Sequence

from harness.detect.finding import Finding

def findings_json(findings: Sequence[Finding], finding: type[Finding],
                  line: Callable[[Finding], str], /) -> bytes: ...
def float_repr(x: float, /) -> str: ...

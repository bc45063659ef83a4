"""harness/text.py: the rules for text that came from a device, a capture or a file."""

from __future__ import annotations

from harness.text import is_digits


def test_digits_are_ascii_digits() -> None:
    """str.isdigit() says yes to "²" (int() refuses it) and to "٣" (int() reads 3): a
    getprop value, a pidof line or a port from the environment can hold either."""
    assert is_digits("0123456789")
    for text in ("", "²", "٣", "1²", "12a", " 1", "-1", "+1", "1_0", "１"):
        assert not is_digits(text), text

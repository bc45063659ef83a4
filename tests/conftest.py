"""Shared fixtures live in harness.testing (shipped); this file only wires them in."""

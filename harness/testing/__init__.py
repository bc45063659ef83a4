"""Test helpers shipped in the package: fakes at the wire, servers, builders, the pytest plugin."""

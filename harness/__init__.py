"""egress-harness: audit what an app sends off the device and check it against vendor claims."""

__version__ = "0.1.0"

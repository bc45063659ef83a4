"""The compiled part of egress-harness; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "harness.detect._jsonwalk",
    ["harness/detect/_jsonwalk.c", "harness/detect/jsonparse.c"],
    depends=["harness/detect/jsonparse.h"],
    extra_compile_args=["-O2", "-Wall", "-Werror"])])

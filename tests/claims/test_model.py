"""Claims files: the shipped ones load; a broken one is refused with file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.claims.model import CHECK_PARAMS, load_claims
from harness.errors import ExitCode, InputError

SHIPPED = sorted((Path(__file__).resolve().parents[2] / "scenarios" / "claims").glob("*.yaml"))
GOOD = """\
vendor: Lab
claims:
  - id: a
    quote: We never send it.
    source: {file: seeds/x.txt, date: 2020-05-02}
    journeys: [incognito]
    checks:
      - no_needle: {classes: [browsing], to: analytics}
"""


def test_shipped_claims_files_load() -> None:
    assert {p.name for p in SHIPPED} >= {"xiaomi-2020.yaml", "incognito-basics.yaml"}
    kinds: set[str] = set()
    for path in SHIPPED:
        cf = load_claims(path)
        assert cf.claims
        for c in cf.claims:
            assert c.quote
            assert c.source["file"]
            assert c.source["date"]
            assert c.checks
            kinds |= {ch.kind for ch in c.checks}
    assert kinds == set(CHECK_PARAMS)  # every check kind is used by a shipped claim


@pytest.mark.parametrize(("old", "new", "line", "column", "words"), [
    # an unknown needle class: line 8 is `      - no_needle: {classes: [browsing], ...`,
    # the list value starts at column 30
    ("classes: [browsing]", "classes: [browsin]", 8, 30, "unknown needle class 'browsin'"),
    # an unknown check
    ("no_needle:", "no_needles:", 8, 9, "unknown check 'no_needles'"),
    # a destination scope that does not exist
    ("to: analytics", "to: analytic", 8, 46, "unknown destination scope 'analytic'"),
    # a YAML syntax error, where the parser gave up (the unclosed flow list runs on)
    ("quote: We never send it.", "quote: [We never", 5, 11, "not valid YAML"),
    # a control character YAML refuses, where it stands
    ("quote: We never send it.", "quote: We\x07 never send it.", 4, 14, "U+0007"),
    # a missing parameter, pointed at the parameters' mapping
    ("{classes: [browsing], to: analytics}", "{to: analytics}", 8, 20,
     "missing parameter 'classes'"),
    # a repeated key inside a claim, at the repetition
    ("source: {", "id: a\n    source: {", 5, 5, 'duplicate key "id"'),
    # a missing field of a claim, at the claim
    ("    source: {file: seeds/x.txt, date: 2020-05-02}\n", "", 3, 5, "missing 'source'"),
])
def test_broken_claims_file_names_file_line_column(tmp_path: Path, old: str, new: str,
                                                  line: int, column: int, words: str) -> None:
    path = tmp_path / "claims.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_claims(path)
    err = info.value
    assert words in str(err)
    assert (err.path, err.line, err.column) == (str(path), line, column), str(err)
    assert str(err).startswith(f"{path}:{line}:{column}: ")
    assert err.exit_code == ExitCode.BAD_INPUT


def test_good_claims_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    path.write_text(GOOD, encoding="utf-8")
    (c,) = load_claims(path).claims
    assert (c.id, c.journeys, c.checks[0].kind, c.checks[0].line) == \
        ("a", ("incognito",), "no_needle", 8)


@pytest.mark.parametrize(("old", "new", "words"), [
    # wrong types where a list of names is due (a lone string was read letter by letter)
    ("classes: [browsing]", "classes: [[browsing]]", "unknown needle class"),
    ("journeys: [incognito]", "journeys: 5", "journeys is a list of names"),
    ("journeys: [incognito]", "journeys: incognito", "journeys is a list of names"),
    ("vendor: Lab", "vendor: Lab\nvendor_domains: xiaomi.com", "vendor_domains is a list"),
    ("vendor: Lab", "vendor: [Lab]", "vendor is a name"),
    ("quote: We never send it.", "quote: {a: 1}", "quote is the vendor's words"),
    # checks whose parameters would have judged wrongly: a no_destination naming nothing
    # held whatever was sent; a version typo failed every message; an unknown switch
    # looked at every phase
    ("no_needle: {classes: [browsing], to: analytics}", "no_destination: {about: domain}",
     "about domain needs domain: NAME"),
    ("no_needle: {classes: [browsing], to: analytics}",
     "no_destination: {about: domain, domain: [lab.test]}", "about domain needs domain"),
    ("no_needle: {classes: [browsing], to: analytics}", "no_destination: {about: sdk, sdk: ''}",
     "about sdk needs sdk"),
    ("no_needle: {classes: [browsing], to: analytics}", "tls_at_least: {version: TLS1.3}",
     "unknown version 'TLS1.3'"),
    ("no_needle: {classes: [browsing], to: analytics}",
     "respects_opt_out: {switch: usage-stats, classes: [device-id]}",
     "unknown switch 'usage-stats'"),
    ("no_needle: {classes: [browsing], to: analytics}", "residency: {countries: ~}",
     "countries is a list"),
    ("no_needle: {classes: [browsing], to: analytics}", "residency: {countries: CN}",
     "countries is a list"),
    ("to: analytics", "to: 'host:(unclosed'", "host:REGEX is not a regular expression"),
    ("to: analytics", "to: 'sdk:'", "unknown destination scope"),
    ("to: analytics", "phases: {incognito: 'yes'}", "to true/false"),
    # what the YAML loader refuses for every file it reads
    ("quote: We never send it.", "quote: " + "9" * 5000, "a number of more than"),
    ("quote: We never send it.", "quote: " + "[" * 3000 + "]" * 3000, "nested too deeply"),
    ("quote: We never send it.", 'quote: "cut \\ud83d here"', "lone UTF-16 surrogate"),
], ids=lambda v: v if isinstance(v, str) and len(v) < 60 and " " in v else "")
def test_claims_that_cannot_be_judged_are_refused(tmp_path: Path, old: str, new: str,
                                                 words: str) -> None:
    path = tmp_path / "claims.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_claims(path)
    assert words in str(info.value)
    assert info.value.path == str(path)
    assert info.value.exit_code == ExitCode.BAD_INPUT


@pytest.mark.timeout(60)  # it took minutes and gigabytes
def test_billion_laughs_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    path = tmp_path / "claims.yaml"
    path.write_text("\n".join(lines) + "\n" + GOOD.replace("quote: We never send it.",
                                                           "quote: *a9"), encoding="utf-8")
    with pytest.raises(InputError, match="aliases expand to more than"):
        load_claims(path)


def test_aliases_of_a_sane_size_still_load(tmp_path: Path) -> None:
    path = tmp_path / "claims.yaml"
    text = GOOD.replace("{classes: [browsing], to: analytics}", "&p {classes: [browsing]}")
    text += "      - no_needle: *p\n"
    path.write_text(text, encoding="utf-8")
    (c,) = load_claims(path).claims
    assert [ch.params for ch in c.checks] == [{"classes": ["browsing"]}] * 2

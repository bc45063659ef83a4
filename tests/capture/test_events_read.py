"""CaptureReader.events against a plain reading of the same rows: the fields objects it
reuses by their text (capturedb.events' ``seen``) are the ones json reads from each row,
each event has its own, and a damaged row is skipped and counted the same way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.capture.rundir import RunDir
from harness.text import no_lone_surrogates
from tests.capture.blank import blank_capture

# the texts a fields column holds: repeated scalar objects (shared), nested ones (never
# shared), escapes, lone surrogates, and what is not a JSON object at all
FIELDS = ['{}', '{"layer":"tls"}', '{"layer":"tcp"}', '{"a":1,"b":2.5,"c":null,"d":true}',
          '{"name":"x.test","addrs":["10.0.0.1"]}', '{"o":{"k":"v"}}', '{"s":"\\ud83d"}',
          '{"s":"\\ud83d\\ude00"}', '{"dup":1,"dup":2}', ' {"layer":"tls"} ', '[1,2]',
          '"text"', '{"layer":', 'null', '{"n":' + "[" * 3000 + "]" * 3000 + '}',
          '{"big":"' + "x" * 300 + '"}', '{"f":1e400}', '{"k":"é"}']
rows = st.lists(st.tuples(st.sampled_from(FIELDS), st.sampled_from(["stream", "dns", "conn"]),
                          st.sampled_from([None, "c1", "c2"])), min_size=1, max_size=40)


def _reference(text: str) -> dict[str, Any] | None:
    """A plain reading of one row's fields, written here rather than taken from capturedb: a
    JSON object or nothing, lone surrogates as U+FFFD (UTF-8 cannot carry them)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return no_lone_surrogates(value) if type(value) is dict else None


def _capture(tmp: Path, spec: list[tuple[str, str, str | None]]) -> RunDir:
    run, db = blank_capture(tmp)
    db.executemany("INSERT INTO events(seq, t, kind, conn, direction, hook, data, fields)"
                   " VALUES(?, ?, ?, ?, 'out', 'native.tls.SSL_write', x'41', ?)",
                   [(i + 1, float(i), kind, conn, text)
                    for i, (text, kind, conn) in enumerate(spec)])
    db.commit()
    db.close()
    return run


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows)
def test_events_read_each_rows_fields(tmp_path_factory: Any,
                                      spec: list[tuple[str, str, str | None]]) -> None:
    run = _capture(tmp_path_factory.mktemp("ev"), spec)
    want = [(i + 1, _reference(text)) for i, (text, _k, _c) in enumerate(spec)]
    with run.reader() as r:
        for kwargs in ({}, {"kinds": ["stream"]}, {"conn": "c1"}, {"kinds": ["dns", "conn"]}):
            got = list(r.events(**kwargs))
            keep = {i + 1 for i, (_t, k, c) in enumerate(spec)
                    if ("kinds" not in kwargs or k in kwargs["kinds"])
                    and ("conn" not in kwargs or c == kwargs["conn"])}
            assert [(e.seq, e.fields) for e in got] == \
                [(s, f) for s, f in want if s in keep and f is not None]
            assert [json.dumps(e.fields) for e in got] == \
                [json.dumps(f) for s, f in want if s in keep and f is not None]
            # every event has its own object: changing one changes no other
            for e in got:
                assert isinstance(e.fields, dict)
                for v in e.fields.values():  # the containers inside too
                    if isinstance(v, list):
                        v.append(e.seq)
                    elif isinstance(v, dict):
                        v["mutated"] = e.seq
                e.fields["mutated"] = e.seq
            for e in got:
                assert e.fields["mutated"] == e.seq
                for v in e.fields.values():
                    if isinstance(v, list):
                        assert v[-1] == e.seq
                        assert v.count(e.seq) == 1
                    elif isinstance(v, dict):
                        assert v["mutated"] == e.seq
            again = list(r.events(**kwargs))
            assert all("mutated" not in e.fields for e in again)
        bad = sum(1 for s, f in want if f is None)
    with run.reader() as r:
        list(r.events())
        assert r.skipped.get("events", 0) == bad

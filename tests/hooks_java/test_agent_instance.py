"""Ids the agent makes from its pid carry its instance in the process (init config ``agent``:
0 for the first script loaded into a pid, 1 after an exec...), as ``harness.protocol``'s
``agent_pid`` writes it: Java connection ids, HTTP call ids, transform ids (Base64, and the
Cipher, Deflater and GZIP ids, which name their Java object by its identity hash: unique only
within one JVM image).

An exec keeps the pid and the new image's agent counts from 0 again: without the instance,
its first call had the old image's first call id, and the builder, which pairs a call's
request, body chunks and response by (pid, call), could pair a call of one image with one of
the other. On the real HotSpot JVM (the agent of an exec'd JVM is loaded the same way, by
attaching: the exec follower re-instruments a pid, with the next instance number)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.protocol import RecordKind, agent_pid
from harness.testing.javafixtures import Fixtures
from harness.testing.recording_server import RecordingServer, ServerCert
from tests.hooks_java.support import hooked, no_agent_errors, of_kind


@pytest.fixture(scope="module")
def server(cert: ServerCert) -> Iterator[RecordingServer]:
    with RecordingServer(cert) as srv:
        yield srv


@pytest.mark.parametrize("agent", [0, 1, 2])
def test_ids_made_by_the_agent_carry_its_instance(fixtures: Fixtures, agent_source: str,
                                                  truststore: Path, server: RecordingServer,
                                                  agent: int) -> None:
    config = {"agent": agent} if agent else {}
    with hooked(fixtures, agent_source, truststore, config=config) as h:
        own = agent_pid(h.driver.pid, agent)
        h.driver.command(f"huc {server.url}/huc-{agent}")
        h.driver.command(f"huc {server.url}/hucs-{agent} stream")
        h.driver.command(f"okhttp {server.url}/ok-{agent}")
        h.driver.command(f"encoders instance-{agent}")
        h.driver.command(f"sensors {server.url}/sa-{agent} SA{agent}")
        records = h.finish()
        no_agent_errors(h)
    calls = [str(r.fields["call"]) for r in of_kind(records, RecordKind.HTTP)]
    stacks = {c.split(":")[0] for c in calls}
    assert {"urlconnection", "okhttp3"} <= stacks, calls
    assert all(c.split(":")[1] == own for c in calls), calls
    conns = {r.conn for r in records if r.conn is not None}
    assert conns
    assert all(c.split(":")[0] == own for c in conns), conns
    transforms = [str(r.fields["call"]) for r in of_kind(records, RecordKind.TRANSFORM)]
    # every transform hook: the encoders command reaches Base64, Deflater and Cipher, the
    # sensors upload GZIPOutputStream
    assert {t.split(":")[0] for t in transforms} >= {"base64", "deflater", "cipher", "gzip"}, \
        transforms
    assert all(t.split(":")[1] == own for t in transforms), transforms

"""Analytics SDK entry points and the app's own encoders/ciphers, through stand-ins with the
real Android and SDK names, on HotSpot."""

from __future__ import annotations

import base64
import gzip
import urllib.parse
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from harness.protocol import Record, RecordKind
from harness.testing.javafixtures import Fixtures, resolve
from harness.testing.recording_server import RecordingServer, ServerCert
from tests.hooks_java.support import Hooked, hooked, no_agent_errors, of_kind


@pytest.fixture(scope="module")
def server(cert: ServerCert) -> Iterator[RecordingServer]:
    with RecordingServer(cert) as srv:
        yield srv


@pytest.fixture(scope="module")
def app(fixtures: Fixtures, agent_source: str, truststore: Path) -> Iterator[Hooked]:
    with hooked(fixtures, agent_source, truststore) as h:
        yield h


def sdk_calls(records: list[Record], frame: str) -> dict[tuple[str, str], Record]:
    """The first record per (sdk, method) called from the given driver method."""
    out: dict[tuple[str, str], Record] = {}
    for r in of_kind(records, RecordKind.SDK):
        frames = r.fields["frames"]
        if isinstance(frames, list) and frames and str(frames[0]).startswith(frame):
            out.setdefault((str(r.fields["sdk"]), str(r.fields["method"])), r)
    return out


def test_every_sdk_call_is_captured_with_its_properties(app: Hooked) -> None:
    assert app.driver.command("sdk SDKCANARY") == "done"
    calls = sdk_calls(app.finish(), "egress.testapp.AndroidCalls.sdk(")
    expected: dict[tuple[str, str], tuple[str, dict[str, object]]] = {
        ("sensors", "track"): ("BrowserVisit", {"url": "https://canary.example/SDKCANARY", "n": 7}),
        ("sensors", "trackInstallation"): ("AppInstall", {"channel": "store"}),
        ("sensors", "login"): ("login", {"login_id": "user-SDKCANARY"}),
        ("sensors", "identify"): ("identify", {"distinct_id": "device-SDKCANARY"}),
        ("sensors", "profileSet"): ("profileSet", {"city": "Beijing"}),
        ("sensors", "registerSuperProperties"): ("registerSuperProperties",
                                                 {"$app_version": "12.1"}),
        ("onetrack", "track"): ("web_visit", {"url": "https://canary.example/SDKCANARY",
                                              "count": 3}),
        ("mistat", "recordCountEvent"): ("search:query", {"q": "SDKCANARY"}),
        ("mistat", "recordCalculateEvent"): ("page:duration", {"value": 1234}),
        ("firebase", "logEvent"): ("select_content", {"item": "SDKCANARY", "value": 42}),
        ("firebase", "setUserId"): ("setUserId", {"user_id": "fb-SDKCANARY"}),
        ("firebase", "setUserProperty"): ("setUserProperty",
                                          {"name": "favorite", "value": "SDKCANARY"}),
        ("appsflyer", "logEvent"): ("af_content_view", {"af_content_id": "SDKCANARY"}),
        ("adjust", "trackEvent"): ("abc123", {"callbackParameters": {"canary": "SDKCANARY"},
                                              "partnerParameters": None, "revenue": None,
                                              "currency": None}),
        ("facebook", "logEvent"): ("fb_mobile_content_view", {"content": "SDKCANARY"}),
        ("facebook", "logPurchase"): ("logPurchase", {"content": "SDKCANARY", "amount": 9.99,
                                                      "currency": "EUR"}),
    }
    for key, (event, props) in expected.items():
        assert key in calls, f"{key} not captured"
        r = calls[key]
        assert r.fields["event"] == event, key
        assert r.fields["properties"] == props, key
        # Attribution: the SDK that was called, and the app frame that called it.
        frames = r.fields["frames"]
        assert isinstance(frames, list)
        assert str(frames[0]).startswith("egress.testapp.AndroidCalls.sdk("), key
        assert r.fields["sender"] is not None
    assert calls[("sensors", "track")].fields["sender"] == "com.sensorsdata.analytics.android.sdk"
    assert calls[("onetrack", "login")].fields["properties"] == {
        "url": "https://canary.example/SDKCANARY", "count": 3, "user_id": "xiaomi-SDKCANARY",
        "user_id_type": "XIAOMI", "is_auto": False}
    # One call, one record: overloads calling overloads are not counted twice.
    logins = [r for r in of_kind(app.run.records(), RecordKind.SDK)
              if r.fields["method"] == "login" and r.fields["sdk"] == "sensors"]
    assert len(logins) == 1
    no_agent_errors(app)


def test_attribution_names_each_call_sites_own_frames(app: Hooked) -> None:
    """Attributions are cached per call path: the same hook reached from two lines of one
    method, alternately and repeatedly, still names each call's own line."""
    assert app.driver.command("twosites TWO") == "done"
    tracks = [r for r in of_kind(app.finish(), RecordKind.SDK)
              if r.fields["method"] == "track" and str(r.fields["event"]).startswith("TWO-")]
    assert [r.fields["event"] for r in tracks] == ["TWO-a0", "TWO-b0", "TWO-a1", "TWO-b1"]
    firsts = {str(r.fields["event"]): str(r.fields["frames"][0]) for r in tracks}  # type: ignore[index]
    assert all(v.startswith("egress.testapp.AndroidCalls.twoSites(AndroidCalls.java:")
               for v in firsts.values()), firsts
    assert firsts["TWO-a0"] == firsts["TWO-a1"]
    assert firsts["TWO-b0"] == firsts["TWO-b1"]
    line_a = int(firsts["TWO-a0"].rsplit(":", 1)[1].rstrip(")"))
    line_b = int(firsts["TWO-b0"].rsplit(":", 1)[1].rstrip(")"))
    assert line_b == line_a + 1
    no_agent_errors(app)


def test_every_other_sdk_entry_point_is_captured(app: Hooked) -> None:
    assert app.driver.command("sdkrest RESTCANARY") == "done"
    frame = "egress.testapp.AndroidCalls.sdkRest("
    got = [(str(r.fields["sdk"]), str(r.fields["method"]), r.fields["event"],
            r.fields["properties"])
           for r in of_kind(app.finish(), RecordKind.SDK)
           if isinstance(r.fields["frames"], list) and r.fields["frames"]
           and str(r.fields["frames"][0]).startswith(frame)]
    c = "RESTCANARY"
    # A call without an event name is named after its method.
    assert got == [
        ("sensors", "trackViewScreen", "trackViewScreen",
         {"url": f"https://canary.example/view/{c}", "title": "T"}),
        ("sensors", "profileSet", "profileSet", {"nickname": c}),
        ("onetrack", "setUserProfile", "setUserProfile", {"age": 30}),
        ("onetrack", "setUserProfile", "setUserProfile", {"channel": c}),
        ("onetrack", "setCommonProperty", "setCommonProperty", {"channel": c}),
        ("mistat", "recordCountEvent", "menu:open", {}),
        ("mistat", "recordCalculateEvent", "page:duration", {"value": 99, "q": c}),
        ("mistat", "recordStringPropertyEvent", "user:city", {"value": c}),
        ("mistat", "recordNumericPropertyEvent", "user:age", {"value": 30}),
        ("firebase", "setDefaultEventParameters", "setDefaultEventParameters", {"campaign": c}),
        ("appsflyer", "setCustomerUserId", "setCustomerUserId", {"customer_user_id": f"af-{c}"}),
        ("adjust", "trackEvent", "rev789", {"callbackParameters": None,
                                            "partnerParameters": {"p": c},
                                            "revenue": 1.5, "currency": "EUR"}),
        ("adjust", "addSessionCallbackParameter", "addSessionCallbackParameter",
         {"key": "session", "value": c}),
        ("adjust", "addSessionPartnerParameter", "addSessionPartnerParameter",
         {"key": "partner", "value": c}),
        ("facebook", "logEvent", "fb_plain", {}),
        ("facebook", "logEvent", "fb_sum", {"value_to_sum": 2.5}),
        ("facebook", "logEvent", "fb_sum_props", {"value_to_sum": 3.5, "content": c}),
        ("facebook", "setUserID", "setUserID", {"user_id": f"fbuser-{c}"}),
    ]
    no_agent_errors(app)


def test_sensors_upload_chain_is_linked_and_attributed(app: Hooked,
                                                       server: RecordingServer) -> None:
    assert app.driver.command(f"sensors {server.url}/sa SACANARY") == "200"
    app.finish()
    sent = next(r for r in server.requests() if r[1] == "/sa")
    form = urllib.parse.parse_qs(sent[3].decode())
    wire_b64 = form["data_list"][0]
    by_hook = [(r, data) for r, data in app.run.slices() if r.kind == RecordKind.TRANSFORM]
    gz = next((r, d) for r, d in by_hook if r.fields["algorithm"] == "gzip"
              and b"SACANARY" in (resolve(r.fields["input"], d) or b""))
    gz_out = resolve(gz[0].fields["output"], gz[1])
    assert gz_out is not None
    assert b"SACANARY" in gzip.decompress(gz_out)
    b64 = next((r, d) for r, d in by_hook if r.fields["algorithm"] == "base64"
               and resolve(r.fields["input"], d) == gz_out)
    b64_out = resolve(b64[0].fields["output"], b64[1])
    assert b64_out is not None
    assert b64_out.decode() == wire_b64
    for r, _ in (gz, b64):
        assert r.fields["sender"] == "com.sensorsdata.analytics.android.sdk"
    # The HTTP request that carried it is attributed to the SDK, not just to the app.
    req = next(r for r in of_kind(app.run.records(), RecordKind.HTTP)
               if r.fields["phase"] == "request" and str(r.fields["url"]).endswith("/sa"))
    assert req.body == sent[3]
    assert req.fields["sender"] == "com.sensorsdata.analytics.android.sdk"
    no_agent_errors(app)


def test_every_encoder_entry_point_links_input_to_output(app: Hooked) -> None:
    outs = [bytes.fromhex(h) for h in app.driver.command("encoders ENCCANARY").split(",")]
    app.finish()
    frame = "egress.testapp.AndroidCalls.encoders("
    got = [(str(r.hook), str(r.fields["algorithm"]), r.fields.get("mode"),
            resolve(r.fields["input"], d), resolve(r.fields["output"], d))
           for r, d in app.run.slices() if r.kind == RecordKind.TRANSFORM
           and isinstance(r.fields["frames"], list)
           and str(r.fields["frames"][0]).startswith(frame)]
    data = b"enc-ENCCANARY"
    sealed = outs[6]
    assert got == [
        ("java.encoders.android.Base64.encode", "base64", None, data, outs[0]),
        ("java.encoders.android.Base64.encode", "base64", None, data[1:], outs[1]),
        ("java.encoders.android.Base64.encodeToString", "base64", None, data[2:], outs[2]),
        ("java.encoders.java.Base64.encode", "base64", None, data, outs[3]),
        ("java.encoders.java.Base64.encode", "base64", None, data, outs[4]),
        ("java.encoders.Deflater.deflate", "deflate", None, data, outs[5]),
        ("java.cipher.doFinal", "AES/GCM/NoPadding", "encrypt", data, sealed),
        ("java.cipher.doFinal", "AES/GCM/NoPadding", "decrypt", sealed, data),
    ]
    # The outputs are what the encoders really give for that input.
    assert outs[0] == base64.b64encode(data)
    assert outs[1] == base64.urlsafe_b64encode(data[1:]) + b"\n"
    assert outs[2] == base64.b64encode(data[2:]).rstrip(b"=") + b"\n"
    assert outs[4] == base64.urlsafe_b64encode(data)
    assert zlib.decompress(outs[5]) == data
    no_agent_errors(app)


def test_a_java_exception_of_the_original_reaches_the_app(app: Hooked) -> None:
    """The hooked overload's original, called through raw JNI, throws: the app catches the
    provider's own exception, as it would without the agent."""
    assert app.driver.command("cipherbad") == "caught javax.crypto.BadPaddingException"
    no_agent_errors(app)


def test_cipher_canary_is_linked_to_its_ciphertext(app: Hooked, server: RecordingServer) -> None:
    assert app.driver.command(f"cipher {server.url}/enc CIPHERCANARY") == "200"
    app.finish()
    body = next(r for r in server.requests() if r[1] == "/enc")[3]
    ciphertext = base64.b64decode(body)
    cipher = next((r, d) for r, d in app.run.slices() if r.kind == RecordKind.TRANSFORM
                  and r.fields["op"] == "cipher"
                  and b"CIPHERCANARY" in (resolve(r.fields["input"], d) or b""))
    rec, data = cipher
    assert rec.fields["algorithm"] == "AES/CBC/PKCS5Padding"
    assert rec.fields["mode"] == "encrypt"
    assert rec.fields["key_bits"] == 128
    plaintext = resolve(rec.fields["input"], data)
    # update() + doFinal() are one operation: the whole plaintext and the whole ciphertext.
    assert plaintext == b'{"events":[{"url":"https://canary.example/CIPHERCANARY"}]}'
    assert resolve(rec.fields["output"], data) == ciphertext
    # Independent check that input really encrypts to output with the app's key.
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(b"0123456789abcdef"), modes.CBC(b"fedcba9876543210")).encryptor()
    assert enc.update(padder.update(plaintext) + padder.finalize()) + enc.finalize() == ciphertext
    # The Base64 step after the cipher links the ciphertext to the body on the wire.
    assert any(r.kind == RecordKind.TRANSFORM and resolve(r.fields["input"], d) == ciphertext
               and resolve(r.fields["output"], d) == body for r, d in app.run.slices())
    # JSSE's own record encryption is not reported as the app's.
    ciphers = [r for r in of_kind(app.run.records(), RecordKind.TRANSFORM)
               if r.fields["op"] == "cipher"]
    assert ciphers
    assert all(isinstance(r.fields["frames"], list)
               and str(r.fields["frames"][0]).startswith("egress.testapp.") for r in ciphers)
    no_agent_errors(app)

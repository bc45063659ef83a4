"""Golden cases from real encoders: every planted needle found, with the right chain."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import urllib.parse
import zlib
from pathlib import Path

from google.protobuf import struct_pb2

from harness.detect.decoders import java_hash
from harness.detect.finding import Needle
from harness.detect.findings import find
from harness.device.base import NeedleClass
from harness.parse.message import Message, MessageKind

CANARY = Needle("url", NeedleClass.BROWSING, "cnry0123456789abcdefnormal", "canary")
DEVICE = Needle("android-id", NeedleClass.DEVICE_ID, "a1b2c3d4e5f60718", "device")
WORD = Needle("query", NeedleClass.BROWSING, "qzfeedfacecafe", "canary")


def request(body: bytes, host: str = "sa.api.lab.test", url: str | None = None,
            headers: tuple[tuple[str, str], ...] = ()) -> Message:
    return Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out",
                   source="native.tls", method="POST", host=host,
                   url=url or f"https://{host}/sa?project=x", body=body, headers=headers,
                   phase="incognito")


def sensors_body(events: list[dict[str, object]], field: str = "data_list") -> bytes:
    data = base64.b64encode(gzip.compress(json.dumps(events).encode())).decode()
    return (f"crc={java_hash(data)}&gzip=1&{field}="
            + urllib.parse.quote(data, safe="")).encode()


def chains(body: bytes, *needles: Needle) -> set[tuple[str, tuple[str, ...]]]:
    return {(f.needle, f.chain) for f in find([request(body)], list(needles))}


def test_sensors_upload_chain_with_crc() -> None:
    body = sensors_body([{"event": "search", "properties": {
        "search_word": WORD.value, "url": f"https://canary.lab.test/c/{CANARY.value}",
        "$device_id": DEVICE.value}}])
    got = chains(body, CANARY, DEVICE, WORD)
    base = ("http:POST sa.api.lab.test/sa", "sensors:data_list (crc ok)", "base64", "gzip")
    assert ("query", (*base, "json:$[0].properties.search_word")) in got
    assert ("url", (*base, "json:$[0].properties.url")) in got
    assert ("android-id", (*base, "json:$[0].properties.$device_id")) in got


def test_bad_crc_is_said() -> None:
    body = sensors_body([{"u": CANARY.value}]).replace(b"crc=", b"crc=1")
    steps = {step for f in find([request(body)], [CANARY]) for step in f.chain}
    assert "sensors:data_list (crc mismatch)" in steps
    assert "sensors:data_list (crc ok)" not in steps


def test_hashed_and_hex_and_utf16_forms() -> None:
    digest = hashlib.sha256(DEVICE.value.encode()).hexdigest()
    body = json.dumps({"h": digest, "x": DEVICE.value.encode().hex()}).encode()
    got = chains(body + DEVICE.value.encode("utf-16-le"), DEVICE)
    derivations = {c[-1] for _, c in got}
    assert "derive:sha256-hex" in derivations
    assert "derive:utf16le" in derivations


def test_value_inside_a_larger_base64_blob_at_every_alignment() -> None:
    for pad in ("", "a", "ab"):
        blob = base64.b64encode(os.urandom(3) + f"{pad}id={DEVICE.value};".encode() * 2)
        assert find([request(b"payload=" + blob)], [DEVICE])


def test_protobuf_built_with_the_protobuf_package() -> None:
    msg = struct_pb2.Struct()
    msg.update({"page": {"url": f"https://canary.lab.test/c/{CANARY.value}"}, "n": 3})
    body = zlib.compress(msg.SerializeToString())
    got = chains(body, CANARY)
    assert any("zlib" in c and any(s.startswith("protobuf:") for s in c) for _, c in got), got


def test_query_string_and_header() -> None:
    m = request(b"", url=f"https://t.example/p?u={urllib.parse.quote(CANARY.value)}",
                headers=(("X-Device", DEVICE.value),))
    got = {(f.needle, f.chain[-1]) for f in find([m], [CANARY, DEVICE])}
    assert got == {("url", "query:u"), ("android-id", "header:x-device")}  # not url too
    # a value in the path (no parameter holds it) is found in the URL itself
    path = request(b"", url=f"https://t.example/c/{CANARY.value}?x=1")
    assert [f.chain[1:] for f in find([path], [CANARY])] == [("url",)]


def test_near_miss_and_noise_find_nothing() -> None:
    near = DEVICE.value[:-1] + "9"
    noise = base64.b64encode(os.urandom(4096))
    assert find([request(near.encode() + b"&n=" + noise)], [DEVICE, CANARY]) == []


def test_canary_page_load_is_a_positive_control() -> None:
    load = Message(id="m7", kind=MessageKind.REQUEST, t=1.0, direction="out", source="java",
                   method="GET", host="canary.lab.test",
                   url=f"https://canary.lab.test:4443/c/{CANARY.value}")
    (f,) = find([load], [CANARY])
    assert f.control
    assert f.chain[-1] == "url"


def test_gzip_bomb_is_cut_with_a_note() -> None:
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(comp.compress(chunk) for _ in range(1024)) + comp.flush()  # 1 GiB
    notes: list[str] = []
    assert find([request(bomb)], [DEVICE], notes=notes) == []
    assert any("cut" in n or "budget" in n for n in notes), notes


def test_deeply_nested_base64_stops_at_the_depth_limit() -> None:
    value = DEVICE.value.encode()
    for _ in range(30):
        value = base64.b64encode(b"v=" + value)
    notes: list[str] = []
    find([request(value)], [DEVICE], notes=notes)
    assert any("depth" in n for n in notes)


def test_invalid_utf8_does_not_break_json_or_excerpts() -> None:
    body = b'{"a":"\xff\xfe' + DEVICE.value.encode() + b'"}\xff'
    (f,) = find([request(body)], [DEVICE])
    assert "[[" + DEVICE.value + "]]" in f.excerpt


def test_lone_surrogates_in_json_urls_and_headers_are_searched_not_fatal() -> None:
    """JSON.stringify writes a string cut inside an emoji as a lone surrogate escape
    ("\\ud83d"); a Java record's URL or header can carry one too. Each is searched, with
    the needle beside it found, and never stops the run."""
    body = json.dumps({"q": "\ud83d" + DEVICE.value, "r": "\udc00 and more text"}).encode()
    assert b"\\ud83d" in body
    (f,) = find([request(body)], [DEVICE])
    assert f.chain[1:] == ("json:$.q",)
    cut = "x\ud800"
    m = request(b"", url=f"https://sa.api.lab.test/p?d={DEVICE.value}&e={cut}",
                headers=(("X-Id", DEVICE.value + cut),))
    assert {f.chain[1:] for f in find([m], [DEVICE])} == {("query:d",), ("header:x-id",)}


def test_near_misses_in_every_form_find_nothing() -> None:
    """One character off, one character short, a separator inserted: in raw, base64, gzip,
    hashed and hex forms, nothing is reported; the exact value in the same forms is."""
    v = DEVICE.value
    misses = [v[:-1] + ("0" if v[-1] != "0" else "1"), v[:-1], v[:8] + "-" + v[8:], v[1:]]

    def forms(s: str) -> bytes:
        b = s.encode()
        return b"&".join([b"r=" + b, b"b=" + base64.b64encode(b"x" + b + b"y"),
                          b"g=" + base64.b64encode(gzip.compress(b)),
                          b"h=" + hashlib.sha256(b).hexdigest().encode(), b"x=" + b.hex().encode()])

    assert find([request(forms(m)) for m in misses], [DEVICE]) == []
    hit = {f.chain[1:] for f in find([request(forms(v))], [DEVICE])}
    assert hit == {("form:r",), ("form:b", "base64"), ("form:g", "base64", "gzip"),
                   ("form:h", "derive:sha256-hex"), ("form:x", "hex")}


def test_random_base64_noise_finds_nothing() -> None:
    rng = __import__("random").Random(7)
    bodies = [base64.b64encode(rng.randbytes(n)) for n in (17, 300, 4096, 100_000)]
    bodies += [b"d=" + base64.urlsafe_b64encode(rng.randbytes(5000)) + b"&gzip=1&crc=1"]
    notes: list[str] = []
    assert find([request(b) for b in bodies], [DEVICE, CANARY, WORD], notes=notes) == []


def test_value_split_across_two_messages_is_not_reported() -> None:
    v = DEVICE.value.encode()
    first = Message(id="m1", kind=MessageKind.REQUEST, t=1.0, direction="out", source="x",
                    method="POST", host="a.test", url="https://a.test/1", body=b"id=" + v[:8])
    second = Message(id="m2", kind=MessageKind.REQUEST, t=1.1, direction="out", source="x",
                     method="POST", host="a.test", url="https://a.test/2", body=v[8:])
    assert find([first, second], [DEVICE]) == []
    joined = Message(id="m3", kind=MessageKind.REQUEST, t=1.2, direction="out", source="x",
                     method="POST", host="a.test", url="https://a.test/3", body=b"id=" + v)
    assert [f.message for f in find([first, second, joined], [DEVICE])] == ["m3"]


def test_json_numbers_and_short_strings_keep_their_path() -> None:
    """Leaves are made only where the parent matched; each still gets its own JSON path."""
    imei = Needle("imei", NeedleClass.DEVICE_ID, "867530912345678", "device")
    body = json.dumps({"a": [1.5, 12, "Android"], "d": {"imei": int(imei.value)},
                       "id": DEVICE.value, "other": DEVICE.value[:-1]}).encode()
    got = chains(body, imei, DEVICE)
    root = "http:POST sa.api.lab.test/sa"
    assert got == {("imei", (root, "json:$.d.imei")), ("android-id", (root, "json:$.id"))}


def test_mixpanel_form_base64_and_a_plain_form_named_data() -> None:
    """Mixpanel's older SDKs send ``data`` as base64 of the JSON; the chain names the format.
    A form that merely has a ``data`` field stays a form."""
    events = json.dumps([{"event": "e", "properties": {"token": "t0k", "distinct_id":
                                                        DEVICE.value}}]).encode()
    body = b"data=" + urllib.parse.quote(base64.b64encode(events)).encode() + b"&ip=1"
    got = chains(body, DEVICE)
    root = "http:POST sa.api.lab.test/sa"
    assert got == {("android-id", (root, "mixpanel:data", "base64",
                                   "json:$[0].properties.distinct_id"))}
    plain = f"data={DEVICE.value}&ip=1".encode()
    assert chains(plain, DEVICE) == {("android-id", (root, "form:data"))}


def test_form_values_percent_encoded_beyond_latin1_are_bytes() -> None:
    """A search word in Cyrillic or Chinese, percent-encoded as UTF-8 in a form body (the
    2020 case's Russian users), is searched as the bytes sent; it crashed the decoder when
    form values went through latin-1. A %-escape that is not UTF-8 stays its byte."""
    word = Needle("query", NeedleClass.BROWSING, "котики-qz7", "canary")
    body = (b"lang=%E9&q=" + urllib.parse.quote(word.value).encode()
            + b"&d=" + urllib.parse.quote("你好").encode() + b"&id=" + DEVICE.value.encode())
    got = chains(body, word, DEVICE)
    root = "http:POST sa.api.lab.test/sa"
    assert got == {("query", (root, "form:q")), ("android-id", (root, "form:id"))}
    sensors = sensors_body([{"w": word.value}]).replace(b"gzip=1", b"gzip=1&t=%D0%BA")
    assert ("query", (root, "sensors:data_list (crc ok)", "base64", "gzip", "json:$[0].w")) \
        in chains(sensors, word)


def test_a_crc_that_is_not_a_java_int_is_a_mismatch() -> None:
    """ "--1" passed the old digit test and then int() raised; 4,301 digits exceed Python's
    int() limit. Both are a Sensors upload with a wrong crc, decoded all the same."""
    good = sensors_body([{"u": CANARY.value}])
    for crc in (b"--1", b"9" * 4301, b"-", b"1e3"):
        body = b"crc=" + crc + good[good.index(b"&"):]
        steps = {step for f in find([request(body)], [CANARY]) for step in f.chain}
        assert "sensors:data_list (crc mismatch)" in steps, crc


def test_json_keys_that_are_not_utf8_are_escaped_in_the_chain(tmp_path: Path) -> None:
    """A GBK body (a Chinese app) or a lone surrogate escape in a key: the chain shows the
    bytes as \\xHH, and findings.json is written (it failed with UnicodeEncodeError)."""
    from harness.analysis import analyze_run
    from harness.testing.runbuilder import RunBuilder

    b = RunBuilder(tmp_path / "run")
    b.needle("android-id", "device-id", DEVICE.value)
    b.phase("p")
    b.request("a.lab.test", "/x", body='{"设备":"%s"}'.encode("gbk") % DEVICE.value.encode())
    b.request("a.lab.test", "/y", body=b'{"\\ud83d": "%s"}' % DEVICE.value.encode())
    a = analyze_run(b.build(analyze=False))
    chains = {f["chain"][-1] for f in json.loads((a.run.path / "findings.json").read_text())}
    assert chains == {"json:$.\\xc9豸", "json:$.\\xed\\xa0\\xbd"}

"""The app's own encoder outputs (agent transform events) against the built-in decoders."""

from __future__ import annotations

import gzip
import json
import os

from harness.detect.decoders import Decoder, Layer


def _layers(body: bytes, transforms: dict[bytes, tuple[str, bytes]]) -> list[Layer]:
    return list(Decoder(transforms).expand(Layer(("body",), body)))


def test_gzip_the_app_made_is_one_layer_under_the_standard_name() -> None:
    plain = json.dumps({"url": "https://canary.lab.test/c/x"}).encode()
    packed = gzip.compress(plain)
    layers = _layers(packed, {packed: ("app:compress", plain)})
    hits = [layer.chain for layer in layers if layer.data == plain]
    assert hits == [("body", "gzip")]


def test_what_no_decoder_can_undo_is_followed_through_the_transform() -> None:
    plain = b'{"search_word": "qz5ee1d2b7c3a9"}'
    sealed = os.urandom(48)  # stands for AES output: nothing built in reverses it
    layers = _layers(sealed, {sealed: ("cipher:AES/CBC/PKCS5Padding", plain)})
    assert [layer.chain for layer in layers if layer.data == plain] == [
        ("body", "cipher:AES/CBC/PKCS5Padding")]

"""Recursive decoding of a message into layers, each with the chain that reached it.

Decoders: form and query strings (``+`` restored before base64), JSON (the chain records the
path), embedded base64 and hex blobs (kept only when what they decode to is plausible),
gzip/zlib/deflate/brotli, schema-less protobuf, and the Sensors Analytics upload format
(``data``/``data_list`` with ``gzip`` and a ``crc`` checked as Java ``String.hashCode``).
Depth, layer count and output bytes are budgeted per message: a gzip bomb or a base64 that
decodes to a gigabyte is cut off with a note, never exhausts memory.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from harness.detect import protowire
from harness.detect.matcher import Match
from harness.parse.encoding import decompress
from harness.text import is_text, utf8

try:  # the walk and the JSON leaves in C (setup.py builds it with the package)
    from harness.detect import _detect
except ImportError:  # pragma: no cover - a checkout that was never built: all in Python
    _detect = None  # type: ignore[assignment]

_B64_RUN = re.compile(rb"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX_RUN = re.compile(rb"\b(?:[0-9a-fA-F]{2}){16,}\b")
_FORM = re.compile(rb"^[\w.%\[\]$-]+=[^&]*(&[\w.%\[\]$-]+=[^&]*)*$")
_CRC = re.compile(rb"-?[0-9]{1,10}")
"""A Java int as the Sensors SDK writes it: "--1" or 4,301 digits are a mismatch, not an
error."""


def _key(k: str) -> str:
    """A JSON key as a chain label: text as it is; bytes that were not UTF-8 (a GBK body)
    or a lone surrogate escape as ``\\xHH`` escapes, which every report can show."""
    return k if is_text(k) else utf8(k).decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class Layer:
    """One decoded layer of a message: how it was reached and its bytes."""

    chain: tuple[str, ...]
    data: bytes
    inert: bool = False
    """A JSON leaf no decoder can open and whose bytes appear unescaped in its parent's
    text: it has no children, and it can only match where its parent matched."""


Scanned = tuple[tuple[str, ...], bytes, Sequence[Match]]
"""A layer that matched: its chain, its bytes, the matches."""
Hooks = tuple[object, ...]
"""The C walk's callbacks and limits (:meth:`Decoder.hooks`; expand.c says what is where)."""


@dataclass
class Budget:
    max_depth: int = 10
    max_layers: int = 5000
    max_bytes: int = 64 << 20
    layers: int = 0
    bytes: int = 0
    notes: list[str] = field(default_factory=list)
    reached: bool = False

    def take(self, n: int) -> bool:
        if self.layers >= self.max_layers or self.bytes + n > self.max_bytes:
            if not self.reached:
                # first, once: a message's notes are cut (findings.NOTES_SHOWN), and this one
                # says the rest of the message went unscanned; depth-limit notes, one per
                # cut layer, came before it and hid it
                self.reached = True
                self.notes.insert(0, f"decode budget reached ({self.layers} layers, "
                                     f"{self.bytes} bytes); deeper content not scanned")
            return False
        self.layers += 1
        self.bytes += n
        return True


def java_hash_py(s: str) -> int:
    """Java's String.hashCode (signed 32-bit), which the Sensors SDK sends as ``crc``: over
    the UTF-16 code units, a lone surrogate being one."""
    h = 0
    data = s.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


java_hash: Callable[[str], int] = java_hash_py if _detect is None else _detect.java_hash
"""java_hash_py in C when built (same values, tests/detect/test_expand.py): a Sensors
payload is tens of kilobytes."""


_TEXT = bytes(range(32, 127)) + b"\t\n\r"
_OPENS = b'/\\"=%&{[+'
_PLAIN = bytes(c for c in _TEXT if c not in _OPENS)
"""Bytes that a decoder keys on, or that JSON may escape: a leaf with any of them is not
inert."""
_MIN_LEAF = 4
"""No pattern is shorter (derive.MIN_PATTERN), and nothing shorter decodes."""


def _inert(b: bytes) -> bool:
    """True when :meth:`Decoder._decode` would find nothing in ``b`` (short printable ASCII
    without the bytes forms, JSON, base64, hex, zlib or protobuf need) and JSON writes it
    as is."""
    return len(b) < 24 and b[:1] != b"x" and not b.translate(None, _PLAIN)


def _printable(b: bytes) -> float:
    if not b:
        return 0.0
    head = b[:4096]
    # translate() deletes the text bytes in C: what is left is the rest
    return 1.0 - len(head.translate(None, _TEXT)) / len(head)


def _plausible(b: bytes) -> bool:
    """Decoded bytes worth keeping: compressed, structured, or mostly text."""
    if len(b) < 4:
        return False
    if b[:2] == b"\x1f\x8b" or b[:1] == b"\x78":
        return True
    head = b.lstrip()[:1]
    if head in (b"{", b"[") or _printable(b) > 0.85:
        return True
    try:
        b.decode("utf-8")
        return _printable(b) > 0.6
    except UnicodeDecodeError:
        return False


def _b64decode(s: bytes) -> bytes | None:
    """Standard or URL-safe base64 (or a mix), padding optional; None when not base64.
    expand.c runs the same in C (b64.c), which tests/detect/test_b64.py compares with this."""
    t = s.replace(b"-", b"+").replace(b"_", b"/")
    t += b"=" * (-len(t) % 4)
    try:
        return base64.b64decode(t, validate=True)
    except (binascii.Error, ValueError):
        return None


b64decode: Callable[[bytes], bytes | None] = _b64decode if _detect is None else _detect.b64decode
"""_b64decode in C when built (b64.c: the same bytes or None, tests/detect/test_b64.py), for
the form decoder, a callback of the C walk too: a Sensors payload is tens of kilobytes."""

protobuf_hazard: Callable[[bytes], bool] = (
    protowire.protobuf_hazard if _detect is None else _detect.protobuf_hazard)
"""protowire.protobuf_hazard in C when built (protowire.h, tests/detect/test_pbhazard.py)."""

unquote_to_bytes: Callable[[bytes], bytes] = (
    urllib.parse.unquote_to_bytes if _detect is None else _detect.unquote)
"""urllib.parse.unquote_to_bytes in C when built (tests/detect/test_unquote.py): every value
of every form, and a Sensors payload is mostly %2B and %2F."""


def _is_mixpanel(fields: Mapping[str, bytes]) -> bool:
    """Mixpanel's ingestion form: ``data`` (JSON, or base64 of JSON, with the project
    token) next to ``ip`` or ``verbose``; the chain then names the SDK's format."""
    text = fields.get("data")
    if text is None or not ("ip" in fields or "verbose" in fields):
        return False
    if not text.lstrip().startswith((b"{", b"[")):
        text = b64decode(text.strip()) or b""
    return b'"token"' in text or b'"$token"' in text


class Decoder:
    """Expands one message body (or URL, header) into every layer it contains."""

    def __init__(self, transforms: Mapping[bytes, tuple[str, bytes]] | None = None,
                 budget: Budget | None = None) -> None:
        self.transforms = transforms or {}
        """Output bytes of the app's own encoders/ciphers → (what, input bytes)."""
        self.budget = budget or Budget()
        self.found: dict[tuple[str, ...], tuple[bytes, ...]] | None = None
        """Set by the scanner: the pattern bytes each scanned layer matched, by chain. Then
        an inert JSON leaf is made only when it holds one of its parent's matches (it can
        match nothing else); most leaves of most bodies are never made at all."""

    def expand(self, root: Layer) -> Iterator[Layer]:
        stack = [(root, 0)]
        while stack:
            layer, depth = stack.pop()
            yield layer
            if layer.inert:
                continue
            if depth >= self.budget.max_depth:
                self.budget.notes.append(f"depth limit at {' > '.join(layer.chain)}")
                continue
            for child in self._children(layer):
                if self.budget.take(len(child.data)):
                    stack.append((child, depth + 1))

    def matched(self, roots: list[tuple[tuple[str, ...], bytes]],
                scan: Callable[[bytes], list[Match]]) -> Iterator[Scanned]:
        """Every layer of a message's roots, given as (chain, bytes), that ``scan`` matches,
        as (chain, bytes, matches), in the order :meth:`expand` makes them: the Python walk,
        which the C one (:meth:`hooks`) hands back to and is tested against."""
        found: dict[tuple[str, ...], tuple[bytes, ...]] = {}
        self.found = found  # read when the generator resumes, after this scan
        for chain, data in roots:
            for layer in self.expand(Layer(chain, data)):
                hits = scan(layer.data)
                found[layer.chain] = tuple({h.pattern.value for h in hits})
                if hits:
                    yield layer.chain, layer.data, hits

    def hooks(self, scan: Callable[[bytes], list[Match]]) -> Hooks | None:
        """What the C walk (expand.c) needs of this decoder to walk a message as
        :meth:`matched` would, scanning with ``scan``; None when it is not built. They hold
        no message's state (the C walk counts the budget itself, and hands back wherever a
        note would be written, for :meth:`matched` to run with a fresh Budget): made once
        for any number of messages."""
        b = self.budget
        return None if _detect is None else (
            scan, self._bbpb_pairs, self.transforms.get if self.transforms else None,
            b.max_depth, b.max_layers, b.max_bytes, _MIN_LEAF)

    @classmethod
    def _bbpb_pairs(cls, data: bytes) -> list[tuple[tuple[str, ...], bytes]]:
        """The C walk's protobuf decoder: :meth:`_bbpb`'s layers as (steps, bytes). Its
        inflate and form decoders are in C (zinflate.c, form.c), where the Python was only
        plumbing: _inflate and _form are their reference (tests/detect/test_form.py)."""
        return [(c.chain, c.data) for c in cls._bbpb(data, ())]

    def _children(self, layer: Layer) -> Iterator[Layer]:
        if not layer.data:
            return
        standard = list(self._decode(layer))
        known = self.transforms.get(layer.data)
        # The app's own encoder output is followed back to its input, unless a standard
        # decoder already gives the same bytes (the app gzipped, and we gunzip): one layer,
        # one finding, under the name anyone can reproduce.
        if known is not None and all(c.data != known[1] for c in standard):
            yield Layer((*layer.chain, known[0]), known[1])
        yield from standard

    def _decode(self, layer: Layer) -> Iterator[Layer]:
        data, chain = layer.data, layer.chain
        if data[:2] == b"\x1f\x8b":
            out = self._inflate(data, "gzip", chain)
            if out is not None:
                yield Layer((*chain, "gzip"), out)
            return
        if data[:1] == b"\x78" and len(data) > 2 and (data[0] << 8 | data[1]) % 31 == 0:
            out = self._inflate(data, "deflate", chain)
            if out is not None:
                yield Layer((*chain, "zlib"), out)
            return
        stripped = data.strip()
        if stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]"):
            leaves = self._json_leaves(stripped, chain)
            if leaves is not None:
                yield from leaves
                return
        b64 = _b64decode(stripped) if len(stripped) >= 16 and _B64_RUN.fullmatch(stripped) else None
        if b64 is not None and _plausible(b64):
            yield Layer((*chain, "base64"), b64)
            return
        if _FORM.match(stripped) and b"=" in stripped:
            yield from self._form(stripped, chain)
            return
        if _HEX_RUN.fullmatch(stripped):
            raw = bytes.fromhex(stripped.decode())
            if _plausible(raw):
                yield Layer((*chain, "hex"), raw)
                return
        if _printable(data) < 0.97 and len(data) <= 4 << 20:
            found = list(self._protobuf(data, chain))
            if found:
                yield from found
                return
        # text with blobs inside it
        for m in _B64_RUN.finditer(data):
            blob = _b64decode(m.group())
            if blob is not None and _plausible(blob) and blob != m.group():
                yield Layer((*chain, f"base64@{m.start()}"), blob)

    def _inflate(self, data: bytes, kind: str, chain: tuple[str, ...]) -> bytes | None:
        limit = max(1, min(self.budget.max_bytes - self.budget.bytes, 32 << 20))
        result = decompress(data, kind, limit)
        where = " > ".join(chain)
        self.budget.notes.extend(f"{n} (at {where})" for n in result.notes)
        if result.data is data:  # could not decode at all
            return None
        return result.data

    def _json_leaves(self, data: bytes, chain: tuple[str, ...]) -> list[Layer] | None:
        """The leaves of a JSON body (see _walk_json), or None when it is not JSON. The C
        walk gives the same leaves in the same order (tests/detect/test_jsonwalk.py); where
        it cannot be exact (escaped or non-ASCII keys, duplicate keys, NaN), the Python one
        runs."""
        if _detect is not None:
            hot = self.found.get(chain, ()) if self.found is not None else None
            got = _detect.leaves(data, _MIN_LEAF, hot)
            if got is None:
                return None
            if got is not False:
                return [Layer((*chain, f"json:{path}"), b, inert) for path, b, inert in got]
        parsed = self._json(data)
        return None if parsed is None else list(self._walk_json(parsed, chain, "$"))

    @staticmethod
    def _json(data: bytes) -> object | None:
        try:
            parsed: object = json.loads(data.decode("utf-8", "surrogateescape"))
        except (ValueError, RecursionError):
            return None
        return parsed

    def _walk_json(self, value: object, chain: tuple[str, ...], path: str) -> Iterator[Layer]:
        # The hot loop of a detection run: one pass per body, containers on an explicit
        # stack (no recursion limit), a leaf's path string built only when it is kept.
        hot = self.found.get(chain, ()) if self.found is not None else None
        out: list[Layer] = []
        todo: list[tuple[object, str]] = [(value, path)]
        while todo:
            container, p = todo.pop()
            items: Iterable[tuple[object, object]] = (
                container.items() if isinstance(container, dict)
                else enumerate(container) if isinstance(container, list) else ())
            nested: list[tuple[object, str]] = []
            for k, v in items:
                t = type(v)
                if t is str:
                    b = utf8(v)  # type: ignore[arg-type]
                    if len(b) < _MIN_LEAF:
                        continue
                    inert = _inert(b)
                    if inert and hot is not None and not (hot and any(h in b for h in hot)):
                        continue
                elif t is dict or t is list:
                    nested.append((v, f"{p}.{_key(k)}" if isinstance(k, str) else f"{p}[{k}]"))
                    continue
                elif (t is int or t is float) and abs(v) >= 1000:  # type: ignore[arg-type]
                    # as written in the parent, except a float's other spellings (1e5 is
                    # 100000.0), which are not what was sent anyway
                    b, inert = str(v).encode(), True
                    if hot is not None and not (hot and any(h in b for h in hot)):
                        continue
                else:
                    continue
                key = f"{p}.{_key(k)}" if isinstance(k, str) else f"{p}[{k}]"
                out.append(Layer((*chain, f"json:{key}"), b, inert))
            todo.extend(reversed(nested))
        yield from out

    def _form(self, data: bytes, chain: tuple[str, ...]) -> Iterator[Layer]:
        # Values are the bytes sent: a %-escaped UTF-8 search word (Cyrillic, Chinese) or a
        # lone %E9 is searched as those bytes. Names are labels: text, never failing.
        fields: dict[str, bytes] = {}
        for part in data.split(b"&"):
            name, _, value = part.partition(b"=")
            # '+' means space in forms, but base64 payloads lose their '+' that way: keep it
            fields[urllib.parse.unquote(name.decode("latin-1"))] = unquote_to_bytes(value)
        sensors_key = next((k for k in ("data_list", "data") if k in fields), None)
        if sensors_key is not None and "gzip" in fields:
            payload = fields[sensors_key]
            crc = fields.get("crc")
            verdict = ("crc ok" if crc is not None and _CRC.fullmatch(crc)
                       and int(crc) == java_hash(payload.decode("utf-8", "replace"))
                       else "crc mismatch" if crc is not None else "no crc")
            tag = (*chain, f"sensors:{sensors_key} ({verdict})")
            raw = b64decode(payload)
            if raw is not None:
                yield Layer((*tag, "base64"), raw)
            for k, v in fields.items():
                if k != sensors_key:
                    yield Layer((*chain, f"form:{k}"), v)
            return
        sdk = "mixpanel" if _is_mixpanel(fields) else "form"
        for k, v in fields.items():
            yield Layer((*chain, f"{sdk if k == 'data' else 'form'}:{k}"), v)

    def _protobuf(self, data: bytes, chain: tuple[str, ...]) -> Iterator[Layer]:
        # The Python walk's way to bbpb. The C walk's (hooks) is _bbpb itself: it has ruled
        # the hazard out already (children.c, protowire.h, which follows bbpb's default
        # decode_message: change both together), and hands a hazardous layer to the Python
        # walk, which writes the note here.
        if protobuf_hazard(data):
            self.budget.notes.append("protobuf: a field length reads negative (or nesting "
                                     f"is too deep); not decoded (at {' > '.join(chain)})")
            return
        yield from self._bbpb(data, chain)

    @staticmethod
    def _bbpb(data: bytes, chain: tuple[str, ...]) -> Iterator[Layer]:
        """bbpb's fields of ``data`` as layers; only for bytes protobuf_hazard has cleared,
        as bbpb may never return on the others."""
        try:
            import blackboxprotobuf

            message, _types = blackboxprotobuf.decode_message(data)
        except Exception:  # noqa: BLE001 - bbpb raises many kinds on non-protobuf input
            return
        todo: list[tuple[object, str]] = [(message, "")]
        while todo:
            v, p = todo.pop()
            if isinstance(v, dict):
                todo.extend((x, f"{p}.{k}" if p else str(k)) for k, x in v.items())
            elif isinstance(v, list):
                todo.extend((x, p) for x in v)
            elif isinstance(v, bytes | bytearray):
                yield Layer((*chain, f"protobuf:{p}"), bytes(v))
            elif isinstance(v, str):
                yield Layer((*chain, f"protobuf:{p}"), v.encode())
            elif isinstance(v, int):
                yield Layer((*chain, f"protobuf:{p}"), str(v).encode())

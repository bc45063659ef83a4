"""The compiled part of egress-harness; everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension(
        "harness.detect._detect",
        ["harness/detect/_detect.c", "harness/detect/expand.c", "harness/detect/layers.c",
         "harness/detect/children.c",
         "harness/detect/found.c", "harness/detect/foundkeys.c", "harness/detect/findbatch.c",
         "harness/detect/excerpt.c",
         "harness/detect/ids.c", "harness/detect/roots.c", "harness/detect/jsonwalk.c",
         "harness/detect/jsonparse.c", "harness/detect/scanner.c", "harness/detect/scannertype.c",
         "harness/detect/b64.c", "harness/detect/form.c", "harness/detect/barren.c",
         "harness/parse/zinflate.c", "harness/parse/zcoding.c",
         "harness/parse/zwhole.c"],
        depends=["harness/detect/jsonparse.h", "harness/detect/jsonscan.h",
                 "harness/detect/inert.h",
                 "harness/detect/jsonwalk.h",
                 "harness/detect/expand.h", "harness/detect/found.h",
                 "harness/detect/foundkeys.h", "harness/detect/bytetests.h",
                 "harness/detect/excerpt.h",
                 "harness/detect/protowire.h", "harness/detect/scanner.h",
                 "harness/detect/b64.h", "harness/detect/roots.h", "harness/detect/ids.h",
                 "harness/detect/keyid.h",
                 "harness/detect/unquote.h", "harness/detect/words.h",
                 "harness/parse/zinflate.h", "harness/parse/h1head.h",
                 "harness/slotoffset.h"],
        # Hyperscan's C API (libhyperscan-dev) for scanner.c and scannertype.c; zlib for
        # zinflate.c, the compressed layers inflated without going back to Python
        # (children.c), and libdeflate (libdeflate-dev) for its gzip trailers' CRC-32 and
        # the streams zwhole.c decodes whole
        libraries=["hs", "z", "deflate"],
        # zinflate.c and zwhole.c are in other extensions too: each keeps its own copy
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
    # HPACK decoding for http2.py over libnghttp2's inflater (Debian: libnghttp2-dev)
    Extension(
        "harness.parse._hpack", ["harness/parse/_hpack.c", "harness/parse/h2frames.c",
                                 "harness/parse/h2stream.c", "harness/parse/h2events.c",
                                 "harness/parse/h2headers.c", "harness/parse/h2texts.c",
                                 "harness/parse/h1draft.c", "harness/parse/zinflate.c",
                                 "harness/parse/zcoding.c", "harness/parse/zwhole.c"],
        depends=["harness/parse/_hpack.h", "harness/parse/h2frames.h",
                 "harness/parse/h1draft.h", "harness/parse/h1head.h",
                 "harness/parse/draftfields.h", "harness/parse/zinflate.h",
                 "harness/parse/asciitext.h", "harness/parse/texttable.h",
                 "harness/detect/words.h"],
        libraries=["nghttp2", "z", "deflate"],
        # h1draft.c, zinflate.c and zwhole.c are in other extensions too: each keeps its own copy
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
    # capture.sqlite's rows for capturedb.events through SQLite's C API (libsqlite3-dev)
    Extension(
        "harness.capture._rows", ["harness/capture/_rows.c", "harness/capture/rowstream.c",
                                  "harness/capture/rowside.c"],
        depends=["harness/capture/rows.h", "harness/capture/rowside.h",
                 "harness/capture/rowvalues.h", "harness/detect/words.h"], libraries=["sqlite3"],
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
    # analysis.sqlite written through SQLite's C API for store.py (the same rows, faster)
    Extension(
        "harness.parse._store", ["harness/parse/_store.c", "harness/parse/storejson.c",
                                 "harness/parse/storemsg.c", "harness/parse/storesql.c",
                                 "harness/parse/storeorder.c", "harness/parse/storerows.c",
                                 "harness/parse/storefacts.c", "harness/parse/draftstamp.c",
                                 "harness/parse/storeput.c", "harness/parse/storeref.c"],
        depends=["harness/parse/storejson.h", "harness/parse/storemsg.h", "harness/growbuf.h",
                 "harness/parse/draftstamp.h", "harness/parse/storewriter.h",
                 "harness/parse/storeorder.h", "harness/parse/storerows.h",
                 "harness/parse/storefacts.h", "harness/detect/words.h",
                 "harness/parse/storesql.h", "harness/parse/draftfields.h",
                 "harness/parse/storeref.h"],
        libraries=["sqlite3"],
        extra_compile_args=["-O2", "-Wall", "-Werror"]),
    # HTTP/1.x parsing for http1.py, a flow per call (no library; http1.py is the fallback)
    Extension(
        "harness.parse._http1",
        ["harness/parse/_http1.c", "harness/parse/h1draft.c", "harness/parse/h1head.c",
         "harness/parse/h1body.c", "harness/parse/h1wire.c", "harness/parse/zinflate.c",
         "harness/parse/zcoding.c", "harness/parse/zwhole.c"],
        depends=["harness/parse/h1draft.h", "harness/parse/h1head.h", "harness/parse/h1wire.h",
                 "harness/parse/draftfields.h", "harness/parse/zinflate.h",
                 "harness/parse/asciitext.h", "harness/parse/texttable.h",
                 "harness/detect/words.h"],
        # zinflate.c and zwhole.c: coded bodies undone without going back to Python
        libraries=["z", "deflate"],
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
    # gzip/deflate bodies for encoding.py through zlib's inflate (zlib1g-dev), or libdeflate
    # where that gives zlib's answer (zwhole.c)
    Extension(
        "harness.parse._inflate", ["harness/parse/_inflate.c", "harness/parse/zinflate.c",
                                   "harness/parse/zwhole.c"],
        depends=["harness/parse/zinflate.h", "harness/parse/h1head.h",
                 "harness/detect/words.h"],
        libraries=["z", "deflate"],
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
    # findings numbered, findings.json's lines (analysis.py and finding.py: the references)
    # and destinations.json's text (json.dump's)
    Extension(
        "harness.detect._outjson", ["harness/detect/_outjson.c", "harness/detect/floatrepr.c",
                                    "harness/detect/numbering.c",
                                    "harness/detect/findinglines.c", "harness/detect/jsonindent.c"],
        depends=["harness/detect/floatrepr.h", "harness/detect/numbering.h",
                 "harness/detect/findinglines.h",
                 "harness/detect/keyid.h",
                 "harness/detect/jsonbuf.h", "harness/detect/jsonindent.h", "harness/growbuf.h",
                 "harness/detect/findingfields.h", "harness/detect/words.h",
                 "harness/slotoffset.h"],
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
    # Classifier.add for every message (destinations.py keeps the reference)
    Extension(
        "harness.classify._classify", ["harness/classify/_classify.c", "harness/classify/sdks.c"],
        depends=["harness/classify/accfields.h", "harness/classify/msgfields.h",
                 "harness/classify/sdks.h", "harness/parse/asciitext.h",
                 "harness/slotoffset.h"],
        extra_compile_args=["-O2", "-Wall", "-Werror", "-fvisibility=hidden"]),
])

"""From a run's raw events to messages: the unit every later step cites.

For consumers (detect, classify, report, lab):

- ``MessageStore.open(run_dir)`` (``harness.parse.storeread``): the run's messages, built into
  ``analysis.sqlite`` on first use and rebuilt when the capture changed;
  ``.messages(kinds=None, with_body=True)`` iterates them in id order (streaming),
  ``.get("m12")``, ``.count()``. ``build_messages(run)`` (``harness.parse.builder``)
  forces a rebuild.
- ``Message``/``MessageKind`` (``harness.parse.message``): requests, responses, WebSocket
  frames, raw unparsed bytes, Java HTTP records, SDK calls, page loads, DNS lookups and
  datagrams, with host, phase, TLS facts, the capture events behind them, and notes on
  anything cut or malformed.
- ``read_har``/``write_har`` (``harness.parse.har``), ``read_flows``
  (``harness.parse.mitm``): messages from a HAR 1.2 file or a mitmproxy flow file.
- ``messages_of(path)`` (``harness.parse.inputs``): any of the three, recognised by
  content (what ``harness scan`` takes).
- ``decompress``/``decode_content`` (``harness.parse.encoding``): gzip, deflate, br, zstd
  under an output budget.

Destinations (``destinations.json``) are ``harness.classify.destinations``.
"""

"""The format of ``analysis.sqlite`` (:mod:`harness.parse.store` writes it,
:mod:`harness.parse.storeread` reads it): its name, version, pragmas, schema and the SQL both
writers run, with why each is so. Apart from the writer so that the file's layout is read in
one place."""

from __future__ import annotations

ANALYSIS_DB = "analysis.sqlite"
STORE_VERSION = 7
"""Bump when parsing changes what it produces (or the schema changes): stores of another
version are rebuilt."""

_PRAGMAS = """
PRAGMA page_size=32768; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
PRAGMA secure_delete=OFF;
"""
# Bodies are most of the bytes: 16 KiB pages held them in a quarter of the overflow pages
# of 4 KiB ones (inserts 0.47 -> 0.41 s on the 20 MB benchmark). 32 KiB: a page's unused
# tail is spread over half as many pages and each page is one pwrite (the 200 MB run's
# file 325.0 -> 311.5 MB, half the pwrites: writing that many bytes, ~94 -> ~74 ms of CPU,
# pinned, best of 7; 20 MB run -0.08% instructions). 64 KiB pages cost more than they save
# (+1.2% instructions: SQLite defragments each page once, a 32 KiB memcpy). A file
# property only: any page size reads the same. The file is a temporary one until complete.
# Debian's SQLite is built with SECURE_DELETE, which zeroes every new b-tree page although
# the pager has just zeroed it (a page past the end of the file): one 16 KiB memset a page,
# ~1,400 instructions a message row as callgrind counts it. The store deletes nothing, so
# there is nothing for it to erase; the bytes it would have zeroed are free space either way.
# What page writing has left needs no pragma (the 20 MB run): the pager's own zeroing is
# ~1,300 instructions a row only as callgrind counts glibc's `rep stosb` (one a byte; ~130
# as vector stores, with GLIBC_TUNABLES' x86_rep_stosb_threshold raised), and the cache
# spilling mid-transaction writes each page once (2,111 pages, 2,120 pwrites): it moves the
# writes, it does not add to them, so a bigger cache_size or cache_spill=OFF would only hold
# the file in memory.
_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE facts(
  id INTEGER PRIMARY KEY, source TEXT NOT NULL, conn TEXT, protocol TEXT, ip TEXT,
  port INTEGER, sni TEXT, tls_version TEXT, cipher TEXT);
CREATE TABLE messages(
  key INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, kind TEXT NOT NULL,
  t REAL NOT NULL, direction TEXT NOT NULL, facts INTEGER NOT NULL, phase TEXT, host TEXT,
  method TEXT, url TEXT, status INTEGER, headers TEXT NOT NULL, body BLOB NOT NULL,
  body_len_wire INTEGER, events TEXT NOT NULL,
  request_key INTEGER, sdk TEXT, frames TEXT NOT NULL, meta TEXT NOT NULL,
  notes TEXT NOT NULL, body_ref BLOB);
CREATE TABLE chunks(key INTEGER PRIMARY KEY, rows TEXT NOT NULL, bodies BLOB NOT NULL,
  ts BLOB NOT NULL);
CREATE TABLE links(a INTEGER NOT NULL, b INTEGER NOT NULL);
CREATE TABLE numbering(keys TEXT NOT NULL);
"""
# ``numbering`` numbers the messages (m<n>) after the fact without rewriting their rows
# (bodies): one row, the keys in number order as a JSON array (``[3,1,2]``: m1 is key 3).
# It was a table ord(n INTEGER PRIMARY KEY, key UNIQUE), two b-trees of a row a message:
# numbering the 20 MB run took 91.0 M instructions (~3,700 a message), one text 10.9 M
# (the sort and the numbers handed back included). Readers look keys up in a list made
# from the text (storeread).
# ``facts`` holds what a message's connection says of it (capture layer, connection,
# protocol, peer, TLS), the same for each of its messages: a row each time they change from
# one message to the next (~once a connection), which the message's row names by its id.
# SQLite's work for a record is per column (its VDBE's, and the binding's), and 8 columns
# of every row were repeated values: add_message 372.3 -> 345.3 M on the 20 MB run (308
# facts rows for 24,640 messages), the 200 MB run's file 345 -> 325 MB with the numbering.
# A body's length is no column (format 5): the reader reads it from the record's header
# (storeread._BODY_LEN), where a column of it was a value to bind and record a row.
# A body whose bytes are in capture.sqlite (format 6, harness.parse.bodyref) is its length
# in ``body`` (an INTEGER, which _BODY_LEN reads as it is) and where its bytes are in
# ``body_ref`` (NULL for a body stored as bytes): the 200 MB benchmark's store held 235 MB
# of bodies, 171 MB of them bytes the capture already holds. A content-decoded body whose
# bytes as sent are there (format 7) is the same, its ``body_ref`` a coded one (the codings
# and budget first, bodyref.CODED): 65 MB more of that store's bodies, which SQLite copied
# and the kernel wrote, read by decoding them again.
# ``chunks`` holds messages several a row (format 7): consecutive keys from the row's key
# (the order written: a connection's messages together), at most CHUNK_MESSAGES of them or
# about CHUNK_BYTES of bodies. ``rows`` is a JSON array of one array a message, its values in
# CHUNK_FIELDS' order, the JSON columns' texts embedded as they are; ``bodies`` their bodies'
# bytes one after another (or, for a body stored as a reference, the reference's: ``body`` is
# then the body's length and ``ref`` the reference's); ``ts`` their t, 8 bytes each,
# little-endian (float.__repr__, JSON's text of a float, was ~7,000 instructions a message).
# SQLite's work for a row is per row and per column (VDBE, record, b-tree): 21 columns a
# message were ~0.27 s of the 200 MB benchmark's ~2.7 s; the 20 MB run's instructions
# 2,167 -> 2,080 M with chunks (the writer's SQLite 119 -> 43 M). Only a message whose values JSON
# gives back as SQLite would (ints, finite non-zero floats, strs, a bytes body: what the
# parsers make) goes in a chunk; any other is a row of ``messages`` as in format 6, where
# SQLite's column affinity makes of its values what it always did.
CHUNK_FIELDS = ("first_seq", "kind", "direction", "facts", "phase", "host", "method",
                "url", "status", "headers", "body", "body_len_wire", "events", "request_key",
                "sdk", "frames", "meta", "notes", "ref")
CHUNK_MESSAGES = 256
CHUNK_BYTES = 1 << 20
"""A chunk is written once it has this many messages, or this many bytes of bodies: a reader
of one message (``get``) decodes its chunk's rows, and holds its bodies."""
_CHUNK = "INSERT INTO chunks(key, rows, bodies, ts) VALUES(?,?,?,?)"
_NUMBER = ("SELECT key FROM (SELECT key, first_seq FROM messages UNION ALL"
           " SELECT c.key + j.key, json_extract(j.value, '$[0]')"
           " FROM chunks c, json_each(c.rows) j) ORDER BY first_seq, key")
"""How messages are numbered (capture order), as SQL over a store: the keys in order (the
reference the tests compare the numbering with; SQLite's JSON functions read the chunks, and
refuse json's NaN and Infinity, which a chunk's meta may hold)."""
_NUMBER_ROWS = ("SELECT key FROM (SELECT key, first_seq FROM messages UNION ALL"
                " SELECT key, first_seq FROM temp.chunked) ORDER BY first_seq, key")
""":data:`_NUMBER` with the chunks' keys and first_seq in a temp table (``chunked``), which
:meth:`StoreWriter.finish` fills from what it was given, and reads when it cannot sort the
keys itself (a first_seq that is not an int: SQLite orders types its own way)."""

_NUMBERING = "INSERT INTO numbering(keys) VALUES(?)"
_FACTS = ("INSERT INTO facts(id, source, conn, protocol, ip, port, sni, tls_version, cipher)"
          " VALUES(?,?,?,?,?,?,?,?,?)")
_INTO = ("INTO messages(key, first_seq, kind, t, direction, facts, phase, host, method, url,"
         " status, headers, body, body_len_wire, events, request_key, sdk, frames,"
         " meta, notes, body_ref) VALUES")
_ROW = "(" + ",".join("?" * 21) + ")"
_INSERT = f"INSERT {_INTO}{_ROW}"

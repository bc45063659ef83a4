/* A store's messages written into analysis.sqlite, for _store.c: several a row of the chunks
 * table where their values are what JSON gives back (storeformat.py: format 7), else one a
 * row of the messages table, as every message was in format 6.
 *
 * SQLite's work for a row is per row and per column (the VDBE's opcodes, the record, the
 * b-tree's insert): with 21 columns a message, ~0.27 s of the 200 MB benchmark's ~2.7 s. A
 * chunk is one row of four columns for up to `limit` messages of consecutive keys: a JSON
 * array of one array a message, the JSON columns' texts embedded as they are, their bodies'
 * bytes one after another, and their t as 8 bytes each. A chunk waits here, growing, until
 * it is full (or its bodies limit_bytes), a key is left out (an add that failed), or any
 * other SQL runs (rows_flush; a facts row need not wait: a chunk names facts by id). A
 * message that does not go in one (a value SQLite's column affinity would change, or NULL
 * where the schema refuses it) is written alone, at once, after the chunk waiting, so that
 * its error comes with its add. */

#ifndef STOREROWS_H
#define STOREROWS_H

#include "storejson.h"
#include "storesql.h"

/* The INSERT's parameters a row (its columns), and the key's, the body's and the body
 * reference's (0-based) */
#define NCOL 21
#define C_KEY 0
#define C_T 3
#define C_BODY 12
#define C_REF 20

typedef struct
{
  sqlite3 *db; /* not its own */
  /* the INSERT of one row of messages, and of a chunk (key, rows, bodies) */
  sqlite3_stmt *one, *chunk;
  JBuf json[JN]; /* the next row's JSON columns' texts, where storejson.c writes them */
  /* the chunk waiting: its rows' JSON (without the closing "]"), their bodies, their ts */
  JBuf text, bodies, ts;
  long long first; /* its first message's key */
  int count, limit; /* its messages, and how many it holds at most */
  Py_ssize_t limit_bytes; /* its bodies' bytes once it is written (storeformat.CHUNK_BYTES);
                           * 0: no such limit */
} Rows;

/* The two INSERTs prepared (one's parameters NCOL, chunk's 4: key, rows, bodies, ts), a chunk at most limit
 * messages or limit_bytes of bodies (0: any). 0, or -1 with an exception set (what was prepared is left for rows_close). */
int rows_prepare (Rows *r, sqlite3 *db, const char *one, const char *chunk, int limit,
                  Py_ssize_t limit_bytes);

/* The buffer JSON column j's text of the next row is to be written into (json_column),
 * when rows_write is to take it from there. */
static inline JBuf *rows_spare (Rows *r, int j)
{
  return &r->json[j];
}

/* A message written, or added to the chunk waiting: col its NCOL parameters, bound as the
 * sqlite3 module binds them, each JSON column's NULL where its text is in rows_spare;
 * col[C_KEY] is its key, key (each greater than the last's). fit: its values may go in a
 * chunk as far as the caller knows (they read back as given: _store.c's fast); it goes in
 * one when its scalars are what JSON writes and reads back too. 0, or -1 with an exception
 * set: a value that does not bind, or SQLite's error (a chunk's: its messages are lost). */
int rows_write (Rows *r, PyObject *const *col, long long key, int fit);

/* The chunk waiting written: before any other SQL runs. 0, or -1 with an exception set
 * (its messages are lost). */
int rows_flush (Rows *r);

/* The statements finalized (the chunk waiting is lost): before the connection closes. */
void rows_close (Rows *r);

/* rows_close, and the buffers freed. */
void rows_free (Rows *r);

#endif

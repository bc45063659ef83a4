/* A store's messages written, in chunks where they can be; see storerows.h. */

#include "storerows.h"

#include <math.h>
#include <stdint.h>

/* Where each JSON column's text is (0-based parameter -> storejson.h's order), -1 for the
 * others */
static const signed char jcol[NCOL] = {
  -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, J_HEADERS, -1, -1, J_EVENTS, -1, -1, J_FRAMES,
  J_META, J_NOTES, -1};

/* s[:n] appended to b: inline, a message's text is ~40 of them. 0, or -1 with
 * MemoryError. */
static inline int put (JBuf *b, const char *s, size_t n)
{
  return growbuf_put (b, s, n, 4096);
}

/* x's decimal text appended to b. 0, or -1 with MemoryError. */
static inline int put_ll (JBuf *b, long long x)
{
  if (growbuf_reserve (b, INT_TEXT_MAX, 4096) < 0)
    return -1;
  b->len += int_text (b->data + b->len, x);
  return 0;
}

int rows_prepare (Rows *r, sqlite3 *db, const char *one, const char *chunk, int limit,
                  Py_ssize_t limit_bytes)
{
  r->db = db;
  r->count = 0;
  r->limit = limit > 0 ? limit : 1;
  r->limit_bytes = limit_bytes;
  int rc = sqlite3_prepare_v2 (db, one, -1, &r->one, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, chunk, -1, &r->chunk, NULL);
  if (rc != SQLITE_OK)
    return sql_error (db, rc), -1;
  if (sqlite3_bind_parameter_count (r->one) != NCOL
      || sqlite3_bind_parameter_count (r->chunk) != 4)
  {
    PyErr_Format (PyExc_ValueError, "the INSERTs bind %d and %d parameters, not %d and 4",
                  sqlite3_bind_parameter_count (r->one),
                  sqlite3_bind_parameter_count (r->chunk), NCOL);
    return -1;
  }
  return 0;
}

/* One row written with the INSERT of one: col its parameters, where a JSON column's is
 * NULL the text in r->json (bound in place, as strs and bytes are: they need live only
 * until this returns). 0, or -1 with an exception set. */
static int write_one (Rows *r, PyObject *const *col)
{
  sqlite3_stmt *st = r->one;
  int e = 0;
  for (int i = 0; e == 0 && i < NCOL; i++)
  {
    if (jcol[i] >= 0 && col[i] == NULL)
    {
      const JBuf *b = &r->json[jcol[i]];
      int rc = sqlite3_bind_text64 (st, i + 1, b->data, b->len, SQLITE_STATIC, SQLITE_UTF8);
      e = rc == SQLITE_OK ? 0 : (sql_error (r->db, rc), -1);
    }
    else
      e = sql_bind (r->db, st, i + 1, col[i]);
  }
  if (e == 0)
  {
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_DONE)
      e = (sql_error (r->db, rc), -1);
  }
  sqlite3_clear_bindings (st); /* nothing it bound in place is held for it */
  return e;
}

int rows_flush (Rows *r)
{
  if (r->count == 0)
    return 0;
  r->count = 0;
  int e = put (&r->text, "]", 1);
  sqlite3_stmt *st = r->chunk;
  int rc = e < 0 ? SQLITE_OK : sqlite3_bind_int64 (st, 1, r->first);
  if (e == 0 && rc == SQLITE_OK)
    rc = sqlite3_bind_text64 (st, 2, r->text.data, r->text.len, SQLITE_STATIC, SQLITE_UTF8);
  if (e == 0 && rc == SQLITE_OK) /* a chunk of empty bodies: a zero-length BLOB, not NULL */
    rc = sqlite3_bind_blob64 (st, 3, r->bodies.len ? r->bodies.data : "", r->bodies.len,
                              SQLITE_STATIC);
  if (e == 0 && rc == SQLITE_OK)
    rc = sqlite3_bind_blob64 (st, 4, r->ts.data, r->ts.len, SQLITE_STATIC);
  if (e == 0 && rc == SQLITE_OK)
  {
    rc = sqlite3_step (st);
    sqlite3_reset (st);
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_clear_bindings (st);
  r->text.len = r->bodies.len = r->ts.len = 0;
  if (e == 0 && rc != SQLITE_OK)
    e = (sql_error (r->db, rc), -1);
  return e;
}

/* What a scalar column may be in a chunk */
enum { TEXT, TEXT_NULL, INT, INT_NULL };

/* v's JSON appended to b where it is of its kind (a str without a surrogate, an int within
 * 64 bits and not a bool: what SQLite would read back as it is, and JSON too) and 1; 0
 * where it is not; -1 with an exception set. */
static inline int scalar (JBuf *b, PyObject *v, int kind)
{
  if (v == Py_None)
    return kind == TEXT_NULL || kind == INT_NULL ? put (b, "null", 4) < 0 ? -1 : 1 : 0;
  if (kind == TEXT || kind == TEXT_NULL)
  {
    int sur = 0;
    if (!PyUnicode_CheckExact (v))
      return 0;
    return json_put_str (b, v, &sur) < 0 ? -1 : !sur;
  }
  return json_put_int (b, v);
}

/* The message col appended to the chunk's text (a "," before it, or the "[" opening the
 * chunk) and its body's bytes to its bodies: 1; 0 where it does not go in a chunk (the
 * chunk as it was); -1 with an exception set. */
static int chunk_add (Rows *r, PyObject *const *col)
{
  static const signed char kinds[NCOL] = {
    -1, INT, TEXT, -1, TEXT, INT, TEXT_NULL, TEXT_NULL, TEXT_NULL, TEXT_NULL, INT_NULL,
    -1, -1, INT_NULL, -1, INT_NULL, TEXT_NULL, -1, -1, -1, -1};
  PyObject *body = col[C_BODY], *ref = col[C_REF], *when = col[C_T];
  if (ref == Py_None ? !PyBytes_CheckExact (body)
      : !PyBytes_CheckExact (ref) || !PyLong_CheckExact (body))
    return 0;
  /* t: a finite float other than 0 (SQLite's REAL gives back -0.0 as 0.0), its 8 bytes in
   * the chunk's ts (float.__repr__, JSON's text of it, was ~7,000 instructions a message) */
  if (!PyFloat_CheckExact (when) || !isfinite (PyFloat_AS_DOUBLE (when))
      || PyFloat_AS_DOUBLE (when) == 0.0)
    return 0;
  JBuf *t = &r->text;
  size_t mark = t->len;
  int got = put (t, r->count ? ",[" : "[[", 2) < 0 ? -1 : 1;
  for (int i = 1; got == 1 && i < NCOL; i++)
  {
    if (i == C_T)
      continue;
    if (i > 1 && put (t, ",", 1) < 0)
      got = -1;
    else if (kinds[i] >= 0)
      got = scalar (t, col[i], kinds[i]);
    else if (i == C_BODY) /* the bytes' length (in bodies), or a reference's body's */
      got = ref != Py_None ? scalar (t, body, INT)
        : put_ll (t, PyBytes_GET_SIZE (body)) < 0 ? -1 : 1;
    else if (i == C_REF) /* the reference's length (in bodies), or null */
      got = (ref != Py_None ? put_ll (t, PyBytes_GET_SIZE (ref)) : put (t, "null", 4)) < 0
        ? -1 : 1;
    else if (col[i] == NULL) /* a JSON column's text */
      got = put (t, r->json[jcol[i]].data, r->json[jcol[i]].len) < 0 ? -1 : 1;
    else /* dumps' text (ASCII: ensure_ascii) */
    {
      Py_ssize_t n;
      const char *s = PyUnicode_AsUTF8AndSize (col[i], &n);
      got = s == NULL || put (t, s, (size_t) n) < 0 ? -1 : 1;
    }
  }
  if (got == 1)
    got = put (t, "]", 1) < 0 ? -1 : 1;
  if (got == 1)
  {
    PyObject *bytes = ref != Py_None ? ref : body;
    uint64_t bits;
    double x = PyFloat_AS_DOUBLE (when);
    memcpy (&bits, &x, 8);
    char le[8]; /* little-endian, whatever the host's order */
    for (int k = 0; k < 8; k++)
      le[k] = (char) (bits >> (8 * k));
    got = put (&r->ts, le, 8) < 0 || put (&r->bodies, PyBytes_AS_STRING (bytes),
                                          (size_t) PyBytes_GET_SIZE (bytes)) < 0 ? -1 : 1;
    if (got < 0)
      r->ts.len = (size_t) r->count * 8;
  }
  if (got != 1)
    t->len = mark;
  return got;
}

int rows_write (Rows *r, PyObject *const *col, long long key, int fit)
{
  /* a chunk's messages are its key's on: a key left out (an add that failed) starts
   * another */
  if (r->count && key != r->first + r->count && rows_flush (r) < 0)
    return -1;
  int got = fit ? chunk_add (r, col) : 0;
  if (got < 0)
    return -1;
  if (got == 0)
    return rows_flush (r) < 0 ? -1 : write_one (r, col);
  if (r->count++ == 0)
    r->first = key;
  return r->count >= r->limit
    || (r->limit_bytes > 0 && r->bodies.len >= (size_t) r->limit_bytes) ? rows_flush (r) : 0;
}

void rows_close (Rows *r)
{
  sqlite3_finalize (r->one); /* a no-op on NULL */
  sqlite3_finalize (r->chunk);
  r->one = r->chunk = NULL;
  r->count = 0;
}

void rows_free (Rows *r)
{
  rows_close (r);
  for (int j = 0; j < JN; j++)
    jbuf_free (&r->json[j]);
  jbuf_free (&r->text);
  jbuf_free (&r->bodies);
  jbuf_free (&r->ts);
}

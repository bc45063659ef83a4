/* A store row's columns written several rows a statement; see storerows.h. */

#include "storerows.h"

/* What is bound to each column (0-based, the INSERT's order): K a value (bind_slot keeps
 * its binding where it can), B the body, J + j JSON column j's text (storejson.h's order).
 * bind_slot reads it once a column (tests of each JSON column's place and C_BODY's were
 * ~300 instructions a row). */
enum { K, B, J };
static const unsigned char role[NCOL] = {
  [C_BODY] = B, [11] = J + J_HEADERS, [14] = J + J_EVENTS, [17] = J + J_FRAMES,
  [18] = J + J_META, [19] = J + J_NOTES};

/* The NOT NULL columns (store.py's schema), 0-based */
static const int not_null[] = {0, 1, 2, 3, 4, 5, 11, 12, 14, 17, 18, 19};

int rows_prepare (Rows *r, sqlite3 *db, const char *one, const char *many)
{
  r->db = db;
  int rc = sqlite3_prepare_v2 (db, one, -1, &r->one, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, many, -1, &r->many, NULL);
  if (rc != SQLITE_OK)
    return sql_error (db, rc), -1;
  int n = sqlite3_bind_parameter_count (r->many);
  if (sqlite3_bind_parameter_count (r->one) != NCOL || n < NCOL || n % NCOL != 0)
  {
    PyErr_Format (PyExc_ValueError, "the INSERTs bind %d and %d parameters, not %d and a"
                  " multiple of it", sqlite3_bind_parameter_count (r->one), n, NCOL);
    return -1;
  }
  r->rows = n / NCOL;
  r->pending = 0;
  r->next = 1;
  r->slot = PyMem_Calloc ((size_t) r->rows, sizeof (Slot));
  return r->slot != NULL ? 0 : (PyErr_NoMemory (), -1);
}

/* Run st and reset it, the INSERT whose last row's key is last: 0, or -1 with the exception
 * of SQLite's error. That row's key is the one SQLite gave it: else keys bound NULL were
 * bound where SQLite gives others (never, as long as r->next is what it says), and the
 * keys handed out would not be the rows' */
static int step (Rows *r, sqlite3_stmt *st, long long last)
{
  int rc = sqlite3_step (st);
  sqlite3_reset (st);
  if (rc != SQLITE_DONE)
    return sql_error (r->db, rc), -1;
  if (sqlite3_last_insert_rowid (r->db) == last)
    return 0;
  PyErr_Format (sql_IntegrityError, "row key %lld written as %lld", last,
                sqlite3_last_insert_rowid (r->db));
  return -1;
}

/* One row written with the INSERT of one: col its parameters, where a JSON column's is
 * NULL the text in buf (bound in place, as strs and bytes are: they need live only until
 * this returns). 0, or -1 with an exception set. */
static int write_one (Rows *r, PyObject *const *col, JBuf *const *buf, long long key)
{
  sqlite3_stmt *st = r->one;
  int e = 0;
  for (int i = 0; e == 0 && i < NCOL; i++)
  {
    if (role[i] >= J && col[i] == NULL)
    {
      const JBuf *b = buf[role[i] - J];
      int rc = sqlite3_bind_text64 (st, i + 1, b->data, b->len, SQLITE_STATIC, SQLITE_UTF8);
      e = rc == SQLITE_OK ? 0 : (sql_error (r->db, rc), -1);
    }
    else
      e = sql_bind (r->db, st, i + 1, col[i]);
  }
  if (e == 0)
    e = step (r, st, key);
  sqlite3_clear_bindings (st); /* nothing it bound in place is held for it */
  return e;
}

int rows_flush (Rows *r)
{
  int n = r->pending, e = 0;
  r->pending = 0;
  for (int s = 0; e == 0 && s < n; s++)
  {
    Slot *slot = &r->slot[s];
    JBuf *buf[JN];
    for (int j = 0; j < JN; j++) /* the buffer bound (held), where bound[] has no str */
      buf[j] = &slot->json[j].buf[slot->json[j].held == 2];
    e = write_one (r, slot->bound, buf, slot->key);
  }
  if (e < 0)
    r->next = 0;
  return e;
}

/* The row col, of key key, bound into the next slot of the INSERT of several. 0, or -1
 * with an exception set (the slot's parameters it reached are rebound, the rest as they
 * were). */
static int bind_slot (Rows *r, PyObject *const *col, long long key)
{
  Slot *slot = &r->slot[r->pending];
  sqlite3_stmt *st = r->many;
  int at = r->pending * NCOL + 1; /* the slot's first parameter */
  slot->key = key;
  for (int i = 0; i < NCOL; i++)
  {
    int e;
    PyObject **bound = &slot->bound[i];
    if (role[i] >= J)
    {
      SqlText *t = &slot->json[role[i] - J];
      if (col[i] == NULL)
        e = sql_bind_spare (r->db, st, at + i, t);
      else /* dumps' text */
      {
        sql_text_let_go (t);
        e = sql_bind (r->db, st, at + i, col[i]);
      }
      if (e == 0) /* held while it is bound, or nothing (the text is in t) */
        Py_XSETREF (*bound, Py_XNewRef (col[i]));
    }
    else if (role[i] == B) /* held, not kept: seldom the same object as the slot's last */
    {
      e = sql_bind (r->db, st, at + i, col[i]);
      if (e == 0)
        Py_XSETREF (*bound, Py_NewRef (col[i]));
    }
    else /* (one call: sql_bind_kept is inlined) */
      e = sql_bind_kept (r->db, st, at + i, i == C_KEY && key == r->next ? Py_None : col[i],
                         bound);
    if (e < 0)
      return -1;
  }
  return 0;
}

int rows_write (Rows *r, PyObject *const *col, long long key)
{
  for (size_t i = 0; i < sizeof not_null / sizeof not_null[0]; i++)
    if (col[not_null[i]] == Py_None)
    {
      JBuf *buf[JN];
      for (int j = 0; j < JN; j++)
        buf[j] = rows_spare (r, j); /* before the flush, which starts the slots over */
      return rows_flush (r) < 0 ? -1 : write_one (r, col, buf, key);
    }
  /* a row not written (refused above, or a value that does not bind) leaves its key out:
   * the next key is then not r->next, and from it on each is bound as it is */
  if (bind_slot (r, col, key) < 0)
    return -1;
  r->next = r->next == key ? key + 1 : 0;
  /* the bindings stay after it runs (bound[] says what they are), for the slots' next
   * rows to keep */
  if (++r->pending < r->rows)
    return 0;
  r->pending = 0;
  if (step (r, r->many, key) == 0)
    return 0;
  r->next = 0;
  return -1;
}

void rows_close (Rows *r)
{
  sqlite3_finalize (r->one); /* a no-op on NULL */
  sqlite3_finalize (r->many);
  r->one = r->many = NULL;
  r->pending = 0;
  /* bound in place: let go once the statements are gone */
  for (int s = 0; r->slot != NULL && s < r->rows; s++)
  {
    for (int i = 0; i < NCOL; i++)
      Py_CLEAR (r->slot[s].bound[i]);
    for (int j = 0; j < JN; j++)
      sql_text_let_go (&r->slot[s].json[j]);
  }
}

void rows_free (Rows *r)
{
  rows_close (r);
  for (int s = 0; r->slot != NULL && s < r->rows; s++)
    for (int j = 0; j < JN; j++)
      sql_text_free (&r->slot[s].json[j]);
  PyMem_Free (r->slot);
  r->slot = NULL;
}

int rows_traverse (Rows *r, visitproc visit, void *arg)
{
  for (int s = 0; r->slot != NULL && s < r->rows; s++)
    for (int i = 0; i < NCOL; i++)
      Py_VISIT (r->slot[s].bound[i]);
  return 0;
}

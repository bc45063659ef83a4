/* Database.stream (rows.h): a connection's rows of capture.sqlite read for reassembly, its
 * stream rows joined per direction as they are stepped through (rowside.c), so that Python
 * touches a connection and not its rows (capture/streamrows.py's StreamRows.of_stream takes
 * what this returns; StreamRows.of_events is the reference it is tested against).
 *
 * It reads each row as _rows.c does (the same Fallback at a text that is not UTF-8, None at
 * a value not of its column's type), and makes Python objects only for what reassembly
 * keeps: each stream row's seq, time and start in its direction's bytes, and the rows read
 * whole (the first stream row, the rows of other kinds).
 *
 * Runs: a row read by the (conn, seq) index costs SQLite a step of the index and a move of
 * the table's cursor to its rowid, ~700 instructions more than the next row of the table
 * (callgrind, 20 MB bench run), and a connection's rows often follow one another in the
 * table (a burst of a connection's records is one batch). Given `run`, the same columns in
 * table order and then the connection's, once the index has given RUN_AFTER rows whose seqs
 * follow one another, the rows after are read in table order while they are the
 * connection's; the first that is not ends the run, and the index goes on after the last
 * row read. Every row the run gives is the index's next (nothing lies between the two in
 * the table), so the rows are the same, in the same order. The index's statement stays on
 * its row while a run reads, so both read in one transaction: one snapshot of a capture a
 * recorder is still writing. A run that gives fewer than RUN_MIN rows (the capture
 * interleaves this connection with others) leaves the rest to the index: the most a run
 * wastes is one seek each way and one row of another connection.
 */

#include "rows.h"
#include "rowside.h"
#include "rowvalues.h"

#define RUN_AFTER 4 /* index rows one after another in the table before a run is tried */
#define RUN_MIN 8   /* rows a run must give for another to be tried (about what one costs) */

/* Database.stream: the columns its SQL selects first, in this order, and what each must hold
 * (fits()): seq, t REAL, kind TEXT, direction TEXT or NULL, data BLOB or NULL, orig_len
 * INTEGER or NULL, truncated, fields TEXT. */
enum { C_SEQ, C_T, C_KIND, C_DIRECTION, C_DATA, C_ORIG_LEN, C_TRUNCATED, C_FIELDS, C_FIXED };
static const char FIXED_TYPES[] = "*ftTBI*t";

/* What a call has read so far, and each column's state in the row it reads. */
typedef struct
{
  Database *d;
  int ncols;
  PyObject *rows, *texts;  /* the rows read whole; each fields text */
  PyObject *text;          /* the last fields text added to texts */
  int streams;             /* stream rows so far */
  Side sides[2];           /* out (any direction but "in"), in */
  PyObject **last;         /* each column's text in the row before (rows_text()) */
  int *type;               /* each column's in the row */
  sqlite3_value **val;     /* and its value (and a run's key after them) */
  Layout layouts[2];       /* of the index's statement and a run's */
  Text *tx;
  unsigned *fit;           /* fits() of each column */
} Stream;

/* The row's value of column i for the stream's lists (a new reference, NULL with an
 * exception set); in a row read whole, the tuple's (row not NULL). */
static PyObject *cell (Stream *s, int i, PyObject *row)
{
  if (row != NULL)
    return Py_NewRef (PyTuple_GET_ITEM (row, i));
  return rows_value (s->d->db, s->val[i], s->type[i], &s->last[i]);
}

/* The row whose values row_values() put in s->val into the stream: 0; 1 at a value not of
 * its column's type (the call returns None); -1 with an exception set. */
static int take (Stream *s)
{
  int ncols = s->ncols, *type = s->type;
  sqlite3_value **val = s->val;
  Text *tx = s->tx;
  int i = 0;
  while (i < ncols && (s->fit[i] >> (type[i] = sqlite3_value_type (val[i])) & 1))
    i++;
  if (i < ncols)
    return 1;
  int odd = 0;  /* a text but kind's, direction's and fields' is not ASCII */
  for (i = 0; i < ncols; i++)
  {
    tx[i].p = NULL;
    if (type[i] != SQLITE_TEXT)
      continue;
    const unsigned char *p = sqlite3_value_text (val[i]);
    tx[i].n = sqlite3_value_bytes (val[i]);
    if (p == NULL && tx[i].n)
      break;
    tx[i].p = p ? p : (const unsigned char *) "";
    if (i != C_FIELDS && i != C_KIND && i != C_DIRECTION && !odd)
      odd = !is_ascii (tx[i].p, tx[i].n);
  }
  if (i < ncols)
  {
    rows_fallback (s->d->db, "text");
    return -1;
  }
  int is_stream = text_is (&tx[C_KIND], "stream", 6);
  int inward = text_is (&tx[C_DIRECTION], "in", 2);  /* the side a stream row joins */
  PyObject *row = NULL;
  if (!is_stream || s->streams == 0)  /* the first stream row and the other kinds: whole */
  {
    if ((row = PyTuple_New (ncols)) == NULL)
      return -1;
    for (i = 0; i < ncols; i++)
    {
      PyObject *v = rows_value (s->d->db, val[i], type[i], &s->last[i]);
      if (v == NULL)
        break;
      PyTuple_SET_ITEM (row, i, v);
    }
    if (i < ncols || PyList_Append (s->rows, row) < 0)
    {
      Py_DECREF (row);
      return -1;
    }
    Py_DECREF (row);  /* rows holds it */
  }
  else
  {
    /* a text the module could not decode makes it stop (Fallback here): ASCII it can,
     * anything else is decoded to know (fields: below; kind is "stream", and a direction
     * "in" or "out" needs no look either) */
    int plain = inward || text_is (&tx[C_DIRECTION], "out", 3);
    if (odd || (!plain && tx[C_DIRECTION].p != NULL
                && !is_ascii (tx[C_DIRECTION].p, tx[C_DIRECTION].n)))
      for (i = 0; i < ncols; i++)  /* as rare as a text not ASCII: each looked at again */
        if (tx[i].p != NULL && i != C_FIELDS && i != C_KIND && (i != C_DIRECTION || !plain)
            && !is_ascii (tx[i].p, tx[i].n))
        {
          PyObject *v = rows_text (&s->last[i], tx[i].p, tx[i].n);
          if (v == NULL)
            return -1;
          Py_DECREF (v);
        }
  }
  /* each fields text once (a repeated one is the str of the row before, rows_text()) */
  PyObject *f = row != NULL ? Py_NewRef (PyTuple_GET_ITEM (row, C_FIELDS))
                            : rows_text (&s->last[C_FIELDS], tx[C_FIELDS].p, tx[C_FIELDS].n);
  if (f == NULL)
    return -1;
  if (f != s->text && PySet_Add (s->texts, f) < 0)
  {
    Py_DECREF (f);
    return -1;
  }
  Py_XSETREF (s->text, f);
  if (!is_stream)
    return 0;
  s->streams++;
  int trunc;
  if (type[C_TRUNCATED] == SQLITE_INTEGER)
    trunc = sqlite3_value_int64 (val[C_TRUNCATED]) != 0;
  else
  {
    PyObject *v = cell (s, C_TRUNCATED, row);
    trunc = v == NULL ? -1 : PyObject_IsTrue (v);
    Py_XDECREF (v);
    if (trunc < 0)
      return -1;
  }
  const void *b = type[C_DATA] == SQLITE_BLOB ? sqlite3_value_blob (val[C_DATA]) : NULL;
  int n = type[C_DATA] == SQLITE_BLOB ? sqlite3_value_bytes (val[C_DATA]) : 0;
  if (b == NULL && n != 0)
  {
    rows_fallback (s->d->db, "blob");
    return -1;
  }
  long long orig = type[C_ORIG_LEN] == SQLITE_INTEGER
                   ? sqlite3_value_int64 (val[C_ORIG_LEN]) : 0;
  long long lost = trunc && orig > n ? orig - n : 0;  /* orig > n >= 0: no overflow */
  /* t is a REAL (fits()); seq the capture's INTEGER, or what the module reads of another */
  PyObject *seq = type[C_SEQ] == SQLITE_INTEGER && row == NULL
                  ? PyLong_FromLongLong (sqlite3_value_int64 (val[C_SEQ]))
                  : cell (s, C_SEQ, row);
  return side_add (&s->sides[inward], seq, sqlite3_value_double (val[C_T]), b, n, lost);
}

/* Whether the row a run's statement is on is the connection's: its last column's value v
 * (row_values()) a TEXT of exactly the key's bytes, as `conn = ?` compares a text in a UTF-8
 * database (any other value is not equal to the text the key binds). */
static int is_mine (sqlite3_value *v, const char *key, Py_ssize_t nkey)
{
  if (sqlite3_value_type (v) != SQLITE_TEXT)
    return 0;
  const unsigned char *p = sqlite3_value_text (v);
  return p != NULL && sqlite3_value_bytes (v) == nkey && memcmp (p, key, (size_t) nkey) == 0;
}

/* The statement of a run on the rows after seq `after` (the call's, reset, or the cache's),
 * selecting ncols columns and the key: 0, or -1 with an exception set. */
static int run_from (Database *d, PyObject *sql, sqlite3_stmt **run, long long after,
                     int ncols)
{
  if (*run != NULL)
  {
    sqlite3_reset (*run);
    if (sqlite3_bind_int64 (*run, 1, after) == SQLITE_OK)
      return 0;
    rows_fallback (d->db, "bind");
    return -1;
  }
  PyObject *args = Py_BuildValue ("(L)", after);
  if (args == NULL)
    return -1;
  *run = rows_statement (d, sql, args);
  Py_DECREF (args);
  if (*run == NULL)
    return -1;
  if (sqlite3_column_count (*run) == ncols + 1)
    return 0;
  PyErr_SetString (PyExc_ValueError, "stream: run selects the columns and then the key");
  return -1;
}

PyObject *rows_stream (Database *d, PyObject *const *argv, Py_ssize_t argc)
{
  if ((argc != 3 && argc != 4) || !PyUnicode_CheckExact (argv[0])
      || !PyTuple_CheckExact (argv[1]) || !PyUnicode_CheckExact (argv[2])
      || (argc == 4 && argv[3] != Py_None && !PyUnicode_CheckExact (argv[3])))
  {
    PyErr_SetString (PyExc_TypeError,
                     "stream(sql: str, args: tuple, types: str, run: str | None = None)");
    return NULL;
  }
  Py_ssize_t nextra;
  const char *extra = PyUnicode_AsUTF8AndSize (argv[2], &nextra);
  if (extra == NULL)
    return NULL;
  /* runs: given their SQL, and the key (args[1]) a text */
  PyObject *run_sql = argc == 4 && argv[3] != Py_None ? argv[3] : NULL;
  const char *key = NULL;
  Py_ssize_t nkey = 0;
  if (run_sql != NULL && PyTuple_GET_SIZE (argv[1]) == 2
      && PyUnicode_CheckExact (PyTuple_GET_ITEM (argv[1], 1))
      && (key = PyUnicode_AsUTF8AndSize (PyTuple_GET_ITEM (argv[1], 1), &nkey)) == NULL)
    PyErr_Clear ();  /* not UTF-8: the statement's bind says so (Fallback) */
  sqlite3_stmt *st = rows_statement (d, argv[0], argv[1]);
  if (st == NULL)
    return NULL;
  sqlite3_stmt *run = NULL;
  int ncols = sqlite3_column_count (st);
  PyObject *result = NULL;
  Stream s;
  memset (&s, 0, sizeof s);
  s.d = d;
  s.ncols = ncols;
  size_t slots = ncols > 0 ? (size_t) ncols : 1;
  s.last = PyMem_Calloc (slots, sizeof (PyObject *));
  s.type = PyMem_Calloc (slots, sizeof (int));
  s.val = PyMem_Calloc (slots + 1, sizeof (sqlite3_value *));  /* and a run's key */
  s.tx = PyMem_Calloc (slots, sizeof (Text));
  s.fit = PyMem_Calloc (slots, sizeof (unsigned));
  if (s.last == NULL || s.type == NULL || s.val == NULL || s.tx == NULL
      || s.fit == NULL)
  {
    if (!PyErr_Occurred ())
      PyErr_NoMemory ();
    goto done;
  }
  if (ncols < C_FIXED || nextra != ncols - C_FIXED)
  {
    PyErr_SetString (PyExc_ValueError, "stream: eight columns and one type per column after");
    goto done;
  }
  for (int i = 0; i < ncols; i++)
    s.fit[i] = fits (i < C_FIXED ? FIXED_TYPES[i] : extra[i - C_FIXED]);
  if (!(s.rows = PyList_New (0)) || !(s.texts = PySet_New (NULL)))
    goto done;
  int runs = key != NULL;  /* whether a run may still be tried */
  long long prev = 0;      /* the seq of the last row read (an INTEGER: runs only then) */
  int streak = 0;          /* rows the index gave one after another, the last at prev */
  int end = 0;             /* a run reached the table's end: every row is read */
  for (;;)
  {
    int rc = end ? SQLITE_DONE : sqlite3_step (st);
    if (rc == SQLITE_DONE)
    {
      PyObject *out = side_done (&s.sides[0]), *in = out ? side_done (&s.sides[1]) : NULL;
      if (in != NULL)
        result = PyTuple_Pack (4, s.rows, out, in, s.texts);
      Py_XDECREF (out);
      Py_XDECREF (in);
      break;
    }
    if (rc != SQLITE_ROW)
    {
      rows_fallback (d->db, "step");
      break;
    }
    row_values (&s.layouts[0], st, ncols, s.val);
    int took = take (&s);
    if (took != 0)
    {
      if (took > 0)
        result = Py_NewRef (Py_None);
      break;
    }
    if (!runs)
      continue;
    if (s.type[C_SEQ] != SQLITE_INTEGER)
    {
      runs = 0;
      continue;
    }
    long long seq = sqlite3_value_int64 (s.val[C_SEQ]);
    streak = streak > 0 && seq == prev + 1 ? streak + 1 : 1;
    prev = seq;
    if (streak < RUN_AFTER)
      continue;
    if (run_from (d, run_sql, &run, prev, ncols) < 0)
      break;
    /* the rows after prev in the table, while they are the connection's */
    int got = 0;
    for (;;)
    {
      int rrc = sqlite3_step (run);
      end = rrc == SQLITE_DONE;
      if (rrc != SQLITE_ROW)
      {
        runs = 0;  /* done, or an error: the index reads on from prev as it would have */
        break;
      }
      row_values (&s.layouts[1], run, ncols + 1, s.val);
      if (!is_mine (s.val[ncols], key, nkey))
        break;
      if ((took = take (&s)) != 0)
        break;
      prev = sqlite3_value_int64 (s.val[C_SEQ]);  /* the rowid: an INTEGER */
      got++;
    }
    if (took != 0)
    {
      if (took > 0)
        result = Py_NewRef (Py_None);
      break;
    }
    if (end)
      continue;
    if (got < RUN_MIN)
      runs = 0;
    streak = 0;
    /* the index on after the run's last row (reset while the run is on its row: one read
     * transaction) */
    sqlite3_reset (st);
    if (sqlite3_bind_int64 (st, 1, prev) != SQLITE_OK)
    {
      rows_fallback (d->db, "bind");
      break;
    }
  }
done:
  if (s.last != NULL)
    for (int i = 0; i < ncols; i++)
      Py_XDECREF (s.last[i]);
  PyMem_Free (s.last);
  PyMem_Free (s.type);
  PyMem_Free (s.val);
  PyMem_Free (s.tx);
  PyMem_Free (s.fit);
  side_clear (&s.sides[0]);
  side_clear (&s.sides[1]);
  Py_XDECREF (s.rows);
  Py_XDECREF (s.texts);
  Py_XDECREF (s.text);
  rows_release (d, argv[0], st);
  if (run != NULL)
    rows_release (d, run_sql, run);
  return result;
}

/* Rows of capture.sqlite read through SQLite's C API, for CaptureReader.events.
 *
 * Database(uri) opens the file read-only on a connection of its own (a path, or the file:
 * URI capturedb._read_uri makes, so that reading leaves no side file either), without SQLite's
 * mutexes (the GIL is never released here, so one thread uses it at a time);
 * Database.rows(sql, args) runs one query and iterates its rows as tuples of exactly what
 * Python's sqlite3 module returns for them (INTEGER int, REAL float, TEXT str, BLOB bytes,
 * NULL None). Python's module releases the GIL around every column it reads and takes
 * SQLite's connection mutex on every call: those were most of the cost of reading a row,
 * two thirds of events() on a 20 MB capture. A text equal to the same column's in the
 * row before (a connection's kind, hook, direction and fields repeat) is the same str.
 *
 * Anything this does not read as the module would -- a text that is not UTF-8 (the module
 * raises a message of its own), an argument other than int, str or None, any error
 * SQLite reports -- raises Fallback before that row: the caller reads the rest with the
 * sqlite3 module, which then does what it always did.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <sqlite3.h>

#define CACHE 8        /* prepared statements kept per database */
#define SHARE_MAX 256  /* texts up to this many bytes are compared with the row before */
#define FIRST_CAP 65536 /* a direction's first buffer: most connections' bytes, and growing
                         * one by doubling copies what it holds (a smaller one shrinks in place) */

static PyObject *Fallback;

typedef struct
{
  PyObject_HEAD
  sqlite3 *db;
  PyObject *sql[CACHE];  /* the statements' SQL, NULL for a free slot */
  sqlite3_stmt *stmt[CACHE];
} Database;

typedef struct
{
  PyObject_HEAD
  Database *owner;
  PyObject *sql;
  sqlite3_stmt *stmt;  /* NULL once done */
  int ncols;
  PyObject **last;  /* each column's text in the row before (or NULL) */
} Rows;

static PyTypeObject RowsType;

static PyObject *fallback (sqlite3 *db, const char *what)
{
  PyErr_Format (Fallback, "%s: %s", what, db ? sqlite3_errmsg (db) : "no database");
  return NULL;
}

/* A statement back to the cache (or finalized when the cache is full or closed). */
static void release (Database *d, PyObject *sql, sqlite3_stmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (d->db != NULL)
    for (int i = 0; i < CACHE; i++)
      if (d->sql[i] == NULL)
      {
        Py_INCREF (sql);
        d->sql[i] = sql;
        d->stmt[i] = stmt;
        return;
      }
  sqlite3_finalize (stmt);
}

static void rows_finish (Rows *r)
{
  if (r->stmt != NULL)
  {
    release (r->owner, r->sql, r->stmt);
    r->stmt = NULL;
  }
  if (r->last != NULL)
  {
    for (int i = 0; i < r->ncols; i++)
      Py_XDECREF (r->last[i]);
    PyMem_Free (r->last);
    r->last = NULL;
  }
}

static void rows_dealloc (Rows *r)
{
  rows_finish (r);
  Py_XDECREF (r->sql);
  Py_XDECREF (r->owner);
  Py_TYPE (r)->tp_free ((PyObject *) r);
}

static PyObject *text_of (PyObject **slot, const unsigned char *text, int n)
{
  PyObject *last = *slot;
  if (last != NULL && n <= SHARE_MAX && PyUnicode_IS_ASCII (last)
      && PyUnicode_GET_LENGTH (last) == n && memcmp (PyUnicode_DATA (last), text, n) == 0)
  {
    Py_INCREF (last);
    return last;
  }
  PyObject *s = PyUnicode_DecodeUTF8 ((const char *) text, n, NULL);
  if (s == NULL)
  {
    if (!PyErr_ExceptionMatches (PyExc_UnicodeDecodeError))
      return NULL;
    PyErr_Clear ();
    PyErr_SetString (Fallback, "a text that is not UTF-8");
    return NULL;
  }
  if (n <= SHARE_MAX && PyUnicode_IS_ASCII (s))
  {
    Py_INCREF (s);
    Py_XSETREF (*slot, s);
  }
  return s;
}

/* Column i of the row st is on, of SQLite type `type`, as the sqlite3 module reads it (NULL
 * with an exception set when it cannot be); *slot is the column's text in the row before,
 * shared when equal. */
static PyObject *value (sqlite3 *db, sqlite3_stmt *st, int i, int type, PyObject **slot)
{
  switch (type)
  {
  case SQLITE_INTEGER:
    return PyLong_FromLongLong (sqlite3_column_int64 (st, i));
  case SQLITE_FLOAT:
    return PyFloat_FromDouble (sqlite3_column_double (st, i));
  case SQLITE_TEXT:
  {
    const unsigned char *t = sqlite3_column_text (st, i);
    int n = sqlite3_column_bytes (st, i);
    return t == NULL && n ? fallback (db, "text")
                          : text_of (slot, t ? t : (const unsigned char *) "", n);
  }
  case SQLITE_BLOB:
  {
    const void *b = sqlite3_column_blob (st, i);
    int n = sqlite3_column_bytes (st, i);
    return b == NULL && n ? fallback (db, "blob") : PyBytes_FromStringAndSize (b, n);
  }
  default:
    return Py_NewRef (Py_None);
  }
}

static PyObject *rows_next (Rows *r)
{
  if (r->stmt == NULL)
    return NULL;
  sqlite3_stmt *st = r->stmt;
  int rc = sqlite3_step (st);
  if (rc == SQLITE_DONE)
  {
    rows_finish (r);
    return NULL;
  }
  if (rc != SQLITE_ROW)
  {
    fallback (r->owner->db, "step");
    rows_finish (r);
    return NULL;
  }
  PyObject *row = PyTuple_New (r->ncols);
  if (row == NULL)
    return NULL;
  for (int i = 0; i < r->ncols; i++)
  {
    PyObject *v = value (r->owner->db, st, i, sqlite3_column_type (st, i), &r->last[i]);
    if (v == NULL)
    {
      Py_DECREF (row);
      rows_finish (r);
      return NULL;
    }
    PyTuple_SET_ITEM (row, i, v);
  }
  return row;
}

static int bind (Database *d, sqlite3_stmt *st, PyObject *args)
{
  Py_ssize_t n = PyTuple_GET_SIZE (args);
  if (n != sqlite3_bind_parameter_count (st))
  {
    PyErr_SetString (Fallback, "not as many arguments as parameters");
    return -1;
  }
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *a = PyTuple_GET_ITEM (args, i);
    int rc;
    if (a == Py_None)
      rc = sqlite3_bind_null (st, (int) i + 1);
    else if (PyLong_CheckExact (a))
    {
      int overflow;
      long long v = PyLong_AsLongLongAndOverflow (a, &overflow);
      if (overflow || (v == -1 && PyErr_Occurred ()))
      {
        PyErr_Clear ();
        PyErr_SetString (Fallback, "an integer argument beyond 64 bits");
        return -1;
      }
      rc = sqlite3_bind_int64 (st, (int) i + 1, v);
    }
    else if (PyUnicode_CheckExact (a))
    {
      Py_ssize_t len;
      const char *s = PyUnicode_AsUTF8AndSize (a, &len);
      if (s == NULL)
      {
        PyErr_Clear ();
        PyErr_SetString (Fallback, "a text argument that is not UTF-8");
        return -1;
      }
      rc = sqlite3_bind_text64 (st, (int) i + 1, s, (sqlite3_uint64) len, SQLITE_TRANSIENT,
                                SQLITE_UTF8);
    }
    else
    {
      PyErr_SetString (Fallback, "an argument other than int, str or None");
      return -1;
    }
    if (rc != SQLITE_OK)
    {
      fallback (d->db, "bind");
      return -1;
    }
  }
  return 0;
}

/* The statement for sql (the cache's, or prepared) with args bound, or NULL with an
 * exception set; the caller gives it back with release(). */
static sqlite3_stmt *statement (Database *d, PyObject *sql, PyObject *args)
{
  if (d->db == NULL)
  {
    fallback (NULL, "closed");
    return NULL;
  }
  sqlite3_stmt *st = NULL;
  for (int i = 0; i < CACHE && st == NULL; i++)
    if (d->sql[i] != NULL && PyUnicode_Compare (d->sql[i], sql) == 0)
    {
      st = d->stmt[i];
      Py_CLEAR (d->sql[i]);
    }
  if (st == NULL)
  {
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize (sql, &len);
    if (text == NULL)
      return NULL;
    if (sqlite3_prepare_v2 (d->db, text, (int) len, &st, NULL) != SQLITE_OK || st == NULL)
    {
      fallback (d->db, "prepare");
      sqlite3_finalize (st);
      return NULL;
    }
  }
  if (bind (d, st, args) < 0)
  {
    release (d, sql, st);
    return NULL;
  }
  return st;
}

static PyObject *database_rows (Database *d, PyObject *const *argv, Py_ssize_t argc)
{
  if (argc != 2 || !PyUnicode_CheckExact (argv[0]) || !PyTuple_CheckExact (argv[1]))
  {
    PyErr_SetString (PyExc_TypeError, "rows(sql: str, args: tuple)");
    return NULL;
  }
  PyObject *sql = argv[0];
  sqlite3_stmt *st = statement (d, sql, argv[1]);
  if (st == NULL)
    return NULL;
  Rows *r = PyObject_New (Rows, &RowsType);
  if (r == NULL)
  {
    release (d, sql, st);
    return NULL;
  }
  r->ncols = sqlite3_column_count (st);
  r->last = PyMem_Calloc (r->ncols ? r->ncols : 1, sizeof (PyObject *));
  r->owner = (Database *) Py_NewRef (d);
  r->sql = Py_NewRef (sql);
  r->stmt = st;
  if (r->last == NULL)
  {
    Py_DECREF (r);
    return PyErr_NoMemory ();
  }
  return (PyObject *) r;
}

/* Whether a value of SQLite type `type` is what `want` asks of its column: i an INTEGER,
 * f a FLOAT, t a TEXT, b a BLOB, the letter in upper case that or NULL, * anything. */
static int fits (char want, int type)
{
  switch (want)
  {
  case '*':
    return 1;
  case 'i':
  case 'I':
    return type == SQLITE_INTEGER || (want == 'I' && type == SQLITE_NULL);
  case 'f':
  case 'F':
    return type == SQLITE_FLOAT || (want == 'F' && type == SQLITE_NULL);
  case 't':
  case 'T':
    return type == SQLITE_TEXT || (want == 'T' && type == SQLITE_NULL);
  case 'b':
  case 'B':
    return type == SQLITE_BLOB || (want == 'B' && type == SQLITE_NULL);
  default:
    return 0;
  }
}

/* Database.stream: the columns its SQL selects first, in this order, and what each must hold
 * (fits()): seq, t REAL, kind TEXT, direction TEXT or NULL, data BLOB or NULL, orig_len
 * INTEGER or NULL, truncated, fields TEXT. */
enum { C_SEQ, C_T, C_KIND, C_DIRECTION, C_DATA, C_ORIG_LEN, C_TRUNCATED, C_FIELDS, C_FIXED };
static const char FIXED_TYPES[] = "*ftTBI*t";

/* One direction's stream rows joined, as streamrows.Side holds them: the bytes of all in
 * order, and each row's start in them, seq, time and bytes lost to truncation (missing stays
 * NULL until a row has lost some: None then). */
typedef struct
{
  PyObject *data;  /* bytes, `cap` long, `size` of them used; NULL before the first byte */
  Py_ssize_t size, cap;
  PyObject *starts, *seqs, *ts, *missing;
} Side;

static int side_init (Side *s)
{
  return (s->starts = PyList_New (0)) && (s->seqs = PyList_New (0)) && (s->ts = PyList_New (0))
      ? 0 : -1;
}

static void side_clear (Side *s)
{
  Py_CLEAR (s->data);
  Py_CLEAR (s->starts);
  Py_CLEAR (s->seqs);
  Py_CLEAR (s->ts);
  Py_CLEAR (s->missing);
}

static int append_new (PyObject *list, PyObject *v) /* steals v */
{
  if (v == NULL)
    return -1;
  int rc = PyList_Append (list, v);
  Py_DECREF (v);
  return rc;
}

/* A row's n bytes (at b) onto the side: seq and t are the row's (borrowed), lost what
 * truncation lost of them. */
static int side_add (Side *s, PyObject *seq, PyObject *t, const void *b, Py_ssize_t n,
                     long long lost)
{
  if (append_new (s->starts, PyLong_FromSsize_t (s->size)) < 0
      || PyList_Append (s->seqs, seq) < 0 || PyList_Append (s->ts, t) < 0)
    return -1;
  if (lost > 0 && s->missing == NULL)
  {
    Py_ssize_t before = PyList_GET_SIZE (s->seqs) - 1;
    PyObject *zero = PyLong_FromLong (0);
    if (zero == NULL)
      return -1;
    s->missing = PyList_New (before);
    if (s->missing == NULL)
    {
      Py_DECREF (zero);
      return -1;
    }
    for (Py_ssize_t i = 0; i < before; i++)
      PyList_SET_ITEM (s->missing, i, Py_NewRef (zero));
    Py_DECREF (zero);
  }
  if (s->missing != NULL && append_new (s->missing, PyLong_FromLongLong (lost)) < 0)
    return -1;
  if (n == 0)
    return 0;
  if (n > PY_SSIZE_T_MAX - s->size)
  {
    PyErr_NoMemory ();
    return -1;
  }
  if (s->size + n > s->cap)
  {
    Py_ssize_t cap = s->cap ? s->cap : FIRST_CAP;
    while (cap < s->size + n)
      cap = cap > PY_SSIZE_T_MAX / 2 ? s->size + n : cap * 2;
    if (s->data == NULL ? (s->data = PyBytes_FromStringAndSize (NULL, cap)) == NULL
                        : _PyBytes_Resize (&s->data, cap) < 0)
      return -1;  /* _PyBytes_Resize clears s->data when it fails */
    s->cap = cap;
  }
  memcpy (PyBytes_AS_STRING (s->data) + s->size, b, n);
  s->size += n;
  return 0;
}

/* The side as (data, starts, seqs, ts, missing or None); cleared either way. */
static PyObject *side_done (Side *s)
{
  PyObject *out = NULL;
  if (s->data == NULL)
    s->data = PyBytes_FromStringAndSize (NULL, 0);
  else if (s->size < s->cap)
    _PyBytes_Resize (&s->data, s->size);
  if (s->data != NULL)
    out = PyTuple_Pack (5, s->data, s->starts, s->seqs, s->ts,
                        s->missing ? s->missing : Py_None);
  side_clear (s);
  return out;
}

/* The row's value of column i for the stream's lists (a new reference, NULL with an
 * exception set); in a row read whole, the tuple's (row not NULL). */
static PyObject *cell (Database *d, sqlite3_stmt *st, int i, const int *type, PyObject **last,
                       PyObject *row)
{
  if (row != NULL)
    return Py_NewRef (PyTuple_GET_ITEM (row, i));
  return value (d->db, st, i, type[i], &last[i]);
}

static int is_ascii (const unsigned char *p, int n)
{
  unsigned char any = 0;
  for (int i = 0; i < n; i++)
    any |= p[i];
  return any < 0x80;
}

/* A row's texts, read once: each TEXT column's bytes (NULL for a column of another type). */
typedef struct
{
  const unsigned char *p;
  int n;
} Text;

static int text_is (const Text *t, const char *want, int n)
{
  return t->p != NULL && t->n == n && memcmp (t->p, want, (size_t) n) == 0;
}

static PyObject *database_stream (Database *d, PyObject *const *argv, Py_ssize_t argc)
{
  if (argc != 3 || !PyUnicode_CheckExact (argv[0]) || !PyTuple_CheckExact (argv[1])
      || !PyUnicode_CheckExact (argv[2]))
  {
    PyErr_SetString (PyExc_TypeError, "stream(sql: str, args: tuple, types: str)");
    return NULL;
  }
  Py_ssize_t nextra;
  const char *extra = PyUnicode_AsUTF8AndSize (argv[2], &nextra);
  if (extra == NULL)
    return NULL;
  sqlite3_stmt *st = statement (d, argv[0], argv[1]);
  if (st == NULL)
    return NULL;
  int ncols = sqlite3_column_count (st);
  PyObject *result = NULL, *rows = NULL, *texts = NULL;
  PyObject *text = NULL;  /* the last fields text added to texts */
  int streams = 0;        /* stream rows so far */
  Side sides[2];          /* out (any direction but "in"), in */
  memset (sides, 0, sizeof sides);
  int ready = side_init (&sides[0]) == 0 && side_init (&sides[1]) == 0;
  size_t slots = ncols > 0 ? (size_t) ncols : 1;
  PyObject **last = PyMem_Calloc (slots, sizeof (PyObject *));
  int *type = PyMem_Calloc (slots, sizeof (int)); /* each column's in a row */
  Text *tx = PyMem_Calloc (slots, sizeof (Text));
  char *types = PyMem_Malloc (slots + 1);
  if (!ready || last == NULL || type == NULL || tx == NULL || types == NULL)
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
  memcpy (types, FIXED_TYPES, C_FIXED);
  memcpy (types + C_FIXED, extra, (size_t) nextra);
  if (!(rows = PyList_New (0)) || !(texts = PySet_New (NULL)))
    goto done;
  for (;;)
  {
    int rc = sqlite3_step (st);
    if (rc == SQLITE_DONE)
    {
      PyObject *out = side_done (&sides[0]), *in = out ? side_done (&sides[1]) : NULL;
      if (in != NULL)
        result = PyTuple_Pack (4, rows, out, in, texts);
      Py_XDECREF (out);
      Py_XDECREF (in);
      break;
    }
    if (rc != SQLITE_ROW)
    {
      fallback (d->db, "step");
      break;
    }
    int i = 0;
    while (i < ncols && fits (types[i], type[i] = sqlite3_column_type (st, i)))
      i++;
    if (i < ncols)
    {
      result = Py_NewRef (Py_None);
      break;
    }
    for (i = 0; i < ncols; i++)
    {
      tx[i].p = NULL;
      if (type[i] != SQLITE_TEXT)
        continue;
      const unsigned char *p = sqlite3_column_text (st, i);
      tx[i].n = sqlite3_column_bytes (st, i);
      if (p == NULL && tx[i].n)
        break;
      tx[i].p = p ? p : (const unsigned char *) "";
    }
    if (i < ncols)
    {
      fallback (d->db, "text");
      break;
    }
    int is_stream = text_is (&tx[C_KIND], "stream", 6);
    PyObject *row = NULL;
    if (!is_stream || streams == 0)  /* the first stream row and the other kinds: whole */
    {
      if ((row = PyTuple_New (ncols)) == NULL)
        break;
      for (i = 0; i < ncols; i++)
      {
        PyObject *v = value (d->db, st, i, type[i], &last[i]);
        if (v == NULL)
          break;
        PyTuple_SET_ITEM (row, i, v);
      }
      if (i < ncols || PyList_Append (rows, row) < 0)
      {
        Py_DECREF (row);
        break;
      }
      Py_DECREF (row);  /* rows holds it */
    }
    else
    {
      /* a text the module could not decode makes it stop (Fallback here): ASCII it can,
       * anything else is decoded to know (fields: below) */
      for (i = 0; i < ncols; i++)
        if (tx[i].p != NULL && i != C_FIELDS && !is_ascii (tx[i].p, tx[i].n))
        {
          PyObject *v = text_of (&last[i], tx[i].p, tx[i].n);
          if (v == NULL)
            break;
          Py_DECREF (v);
        }
      if (i < ncols)
        break;
    }
    /* each fields text once (a repeated one is the str of the row before, text_of()) */
    PyObject *f = row != NULL ? Py_NewRef (PyTuple_GET_ITEM (row, C_FIELDS))
                              : text_of (&last[C_FIELDS], tx[C_FIELDS].p, tx[C_FIELDS].n);
    if (f == NULL)
      break;
    if (f != text && PySet_Add (texts, f) < 0)
    {
      Py_DECREF (f);
      break;
    }
    Py_XSETREF (text, f);
    if (!is_stream)
      continue;
    streams++;
    int trunc;
    if (type[C_TRUNCATED] == SQLITE_INTEGER)
      trunc = sqlite3_column_int64 (st, C_TRUNCATED) != 0;
    else
    {
      PyObject *v = cell (d, st, C_TRUNCATED, type, last, row);
      trunc = v == NULL ? -1 : PyObject_IsTrue (v);
      Py_XDECREF (v);
      if (trunc < 0)
        break;
    }
    const void *b = type[C_DATA] == SQLITE_BLOB ? sqlite3_column_blob (st, C_DATA) : NULL;
    int n = type[C_DATA] == SQLITE_BLOB ? sqlite3_column_bytes (st, C_DATA) : 0;
    if (b == NULL && n != 0)
    {
      fallback (d->db, "blob");
      break;
    }
    long long orig = type[C_ORIG_LEN] == SQLITE_INTEGER
                     ? sqlite3_column_int64 (st, C_ORIG_LEN) : 0;
    long long lost = trunc && orig > n ? orig - n : 0;  /* orig > n >= 0: no overflow */
    PyObject *seq = cell (d, st, C_SEQ, type, last, row);
    PyObject *t = seq ? cell (d, st, C_T, type, last, row) : NULL;
    int added = t == NULL ? -1
                : side_add (&sides[text_is (&tx[C_DIRECTION], "in", 2)], seq, t, b, n, lost);
    Py_XDECREF (seq);
    Py_XDECREF (t);
    if (added < 0)
      break;
  }
done:
  if (last != NULL)
    for (int i = 0; i < ncols; i++)
      Py_XDECREF (last[i]);
  PyMem_Free (last);
  PyMem_Free (type);
  PyMem_Free (tx);
  PyMem_Free (types);
  side_clear (&sides[0]);
  side_clear (&sides[1]);
  Py_XDECREF (rows);
  Py_XDECREF (texts);
  Py_XDECREF (text);
  release (d, argv[0], st);
  return result;
}

static PyObject *database_close (Database *d, PyObject *unused)
{
  for (int i = 0; i < CACHE; i++)
    if (d->sql[i] != NULL)
    {
      sqlite3_finalize (d->stmt[i]);
      Py_CLEAR (d->sql[i]);
    }
  if (d->db != NULL)
  {
    sqlite3_close_v2 (d->db);  /* a zombie until the statements of live Rows are done */
    d->db = NULL;
  }
  Py_RETURN_NONE;
}

static PyObject *database_new (PyTypeObject *type, PyObject *args, PyObject *kw)
{
  const char *uri; /* a file: URI, as capturedb._read_uri makes it (read-only, immutable) */
  if (!PyArg_ParseTuple (args, "s:Database", &uri))
    return NULL;
  Database *d = (Database *) type->tp_alloc (type, 0);
  if (d == NULL)
    return NULL;
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2 (uri, &db,
                              SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
  if (rc != SQLITE_OK)
  {
    fallback (db, "open");
    sqlite3_close_v2 (db);
    Py_DECREF (d);
    return NULL;
  }
  d->db = db;
  return (PyObject *) d;
}

static void database_dealloc (Database *d)
{
  PyObject *r = database_close (d, NULL);
  Py_XDECREF (r);
  Py_TYPE (d)->tp_free ((PyObject *) d);
}

static PyMethodDef database_methods[] = {
  {"rows", (PyCFunction) (void (*) (void)) database_rows, METH_FASTCALL,
   "rows(sql, args): an iterator over the query's rows, as tuples"},
  {"stream", (PyCFunction) (void (*) (void)) database_stream, METH_FASTCALL,
   "stream(sql, args, types): a connection's rows as (rows, out, in, fields): the first stream "
   "row and those of other kinds whole, the stream rows of each direction joined, each fields "
   "text once; None at the first value whose type is not its column's"},
  {"close", (PyCFunction) database_close, METH_NOARGS, "close the connection"},
  {NULL, NULL, 0, NULL},
};

static PyTypeObject DatabaseType = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "harness.capture._rows.Database",
  .tp_basicsize = sizeof (Database),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "Database(path): capture.sqlite opened read-only for reading rows",
  .tp_new = database_new,
  .tp_dealloc = (destructor) database_dealloc,
  .tp_methods = database_methods,
};

static PyTypeObject RowsType = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "harness.capture._rows.Rows",
  .tp_basicsize = sizeof (Rows),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "The rows of one query, as tuples",
  .tp_dealloc = (destructor) rows_dealloc,
  .tp_iter = PyObject_SelfIter,
  .tp_iternext = (iternextfunc) rows_next,
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "_rows", "Rows of capture.sqlite through SQLite's C API (capturedb.py).",
  -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__rows (void)
{
  if (PyType_Ready (&DatabaseType) < 0 || PyType_Ready (&RowsType) < 0)
    return NULL;
  PyObject *m = PyModule_Create (&module);
  if (m == NULL)
    return NULL;
  Fallback = PyErr_NewExceptionWithDoc ("harness.capture._rows.Fallback",
      "What these rows cannot be read as the sqlite3 module reads them: read them with it.",
      PyExc_Exception, NULL);
  if (Fallback == NULL || PyModule_AddObjectRef (m, "Fallback", Fallback) < 0
      || PyModule_AddObjectRef (m, "Database", (PyObject *) &DatabaseType) < 0)
  {
    Py_DECREF (m);
    return NULL;
  }
  return m;
}

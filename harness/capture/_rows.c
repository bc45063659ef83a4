/* Rows of capture.sqlite read through SQLite's C API, for CaptureReader.events (and for
 * CaptureReader.stream_rows: Database.stream, in rowstream.c).
 *
 * Database(uri) opens the file read-only on a connection of its own (a path, or the file:
 * URI capturedb.read_uri makes, so that reading leaves no side file either), without SQLite's
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

#include "rows.h"

#define SHARE_MAX 256  /* texts up to this many bytes are compared with the row before */

PyObject *Fallback;

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

PyObject *rows_fallback (sqlite3 *db, const char *what)
{
  PyErr_Format (Fallback, "%s: %s", what, db ? sqlite3_errmsg (db) : "no database");
  return NULL;
}

/* A statement back to the cache (finalized once the database is closed); a full cache
 * finalizes one it holds, in turn. Finalizing the one given back kept the first eight met
 * for good: one-off queries asked before the stream left one of its two statements to be
 * prepared again every connection (~100,000 instructions each). */
void rows_release (Database *d, PyObject *sql, sqlite3_stmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  if (d->db == NULL)
  {
    sqlite3_finalize (stmt);
    return;
  }
  int i = 0;
  while (i < CACHE && d->sql[i] != NULL)
    i++;
  if (i == CACHE) /* full */
  {
    i = d->evict, d->evict = (d->evict + 1) % CACHE;
    Py_CLEAR (d->sql[i]);
    sqlite3_finalize (d->stmt[i]);
  }
  d->sql[i] = Py_NewRef (sql), d->stmt[i] = stmt;
}

static void rows_finish (Rows *r)
{
  if (r->stmt != NULL)
  {
    rows_release (r->owner, r->sql, r->stmt);
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

PyObject *rows_text (PyObject **slot, const unsigned char *text, int n)
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

/* A column's value v of the row a statement is on (sqlite3_column_value), of SQLite type
 * `type`, as the sqlite3 module reads it (NULL with an exception set when it cannot be);
 * *slot is the column's text in the row before, shared when equal. */
PyObject *rows_value (sqlite3 *db, sqlite3_value *v, int type, PyObject **slot)
{
  switch (type)
  {
  case SQLITE_INTEGER:
    return PyLong_FromLongLong (sqlite3_value_int64 (v));
  case SQLITE_FLOAT:
    return PyFloat_FromDouble (sqlite3_value_double (v));
  case SQLITE_TEXT:
  {
    const unsigned char *t = sqlite3_value_text (v);
    int n = sqlite3_value_bytes (v);
    return t == NULL && n ? rows_fallback (db, "text")
                          : rows_text (slot, t ? t : (const unsigned char *) "", n);
  }
  case SQLITE_BLOB:
  {
    const void *b = sqlite3_value_blob (v);
    int n = sqlite3_value_bytes (v);
    return b == NULL && n ? rows_fallback (db, "blob") : PyBytes_FromStringAndSize (b, n);
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
    rows_fallback (r->owner->db, "step");
    rows_finish (r);
    return NULL;
  }
  PyObject *row = PyTuple_New (r->ncols);
  if (row == NULL)
    return NULL;
  for (int i = 0; i < r->ncols; i++)
  {
    sqlite3_value *cv = sqlite3_column_value (st, i);
    PyObject *v = rows_value (r->owner->db, cv, sqlite3_value_type (cv), &r->last[i]);
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
      rows_fallback (d->db, "bind");
      return -1;
    }
  }
  return 0;
}

/* The statement for sql (the cache's, or prepared) with args bound, or NULL with an
 * exception set; the caller gives it back with release(). */
sqlite3_stmt *rows_statement (Database *d, PyObject *sql, PyObject *args)
{
  if (d->db == NULL)
  {
    rows_fallback (NULL, "closed");
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
      rows_fallback (d->db, "prepare");
      sqlite3_finalize (st);
      return NULL;
    }
  }
  if (bind (d, st, args) < 0)
  {
    rows_release (d, sql, st);
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
  sqlite3_stmt *st = rows_statement (d, sql, argv[1]);
  if (st == NULL)
    return NULL;
  Rows *r = PyObject_New (Rows, &RowsType);
  if (r == NULL)
  {
    rows_release (d, sql, st);
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
  const char *uri; /* a file: URI, as capturedb.read_uri makes it (read-only, immutable) */
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
    rows_fallback (db, "open");
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
  {"stream", (PyCFunction) (void (*) (void)) rows_stream, METH_FASTCALL,
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

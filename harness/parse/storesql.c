/* SQL run as Python's sqlite3 module runs it, for _store.c; see storesql.h. */

#include "storesql.h"

PyObject *sql_IntegrityError, *sql_OperationalError, *sql_DataError, *sql_ProgrammingError;

int sql_init (void)
{
  PyObject *sqlite = PyImport_ImportModule ("sqlite3");
  if (sqlite == NULL)
    return -1;
  sql_IntegrityError = PyObject_GetAttrString (sqlite, "IntegrityError");
  sql_OperationalError = PyObject_GetAttrString (sqlite, "OperationalError");
  sql_DataError = PyObject_GetAttrString (sqlite, "DataError");
  sql_ProgrammingError = PyObject_GetAttrString (sqlite, "ProgrammingError");
  Py_DECREF (sqlite);
  return sql_IntegrityError && sql_OperationalError && sql_DataError && sql_ProgrammingError
    ? 0 : -1;
}

/* An exception for a result code, with SQLite's message (NULL): the sqlite3 module's class
 * for constraint, type and size errors, OperationalError for the rest (where the module
 * would say DatabaseError or InternalError: all sqlite3.Error, which is what store.py
 * catches). */
PyObject *sql_error (sqlite3 *db, int rc)
{
  PyObject *cls;
  switch (rc & 0xff)
  {
    case SQLITE_NOMEM: return PyErr_NoMemory ();
    case SQLITE_CONSTRAINT: case SQLITE_MISMATCH: cls = sql_IntegrityError; break;
    case SQLITE_TOOBIG: cls = sql_DataError; break;
    default: cls = sql_OperationalError;
  }
  PyErr_SetString (cls, db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (rc));
  return NULL;
}

/* A str bound as TEXT, in place: its UTF-8 (cached in it). 0, or -1 with an exception
 * set. */
static int bind_str (sqlite3 *db, sqlite3_stmt *st, int i, PyObject *v)
{
  Py_ssize_t n;
  const char *s = PyUnicode_AsUTF8AndSize (v, &n);
  if (s == NULL)
    return -1;
  int rc = sqlite3_bind_text64 (st, i, s, (sqlite3_uint64) n, SQLITE_STATIC, SQLITE_UTF8);
  return rc == SQLITE_OK ? 0 : (sql_error (db, rc), -1);
}

/* A parameter bound as the sqlite3 module binds it (no adapters: store registers only
 * None's, which binds NULL): int (bool too) INTEGER, float REAL, str TEXT, bytes-like BLOB.
 * A str or bytes is bound in place: it must live until the statement is reset. */
int sql_bind (sqlite3 *db, sqlite3_stmt *st, int i, PyObject *v)
{
  int rc;
  if (v == Py_None)
    rc = sqlite3_bind_null (st, i);
  /* the exact types first, a store row's values: PyFloat_Check of a str or bytes asks
   * PyType_IsSubtype (~20 instructions each); no subclass of one of them is of another */
  else if (PyUnicode_CheckExact (v))
    return bind_str (db, st, i, v);
  else if (PyBytes_CheckExact (v))
    rc = sqlite3_bind_blob64 (st, i, PyBytes_AS_STRING (v),
                              (sqlite3_uint64) PyBytes_GET_SIZE (v), SQLITE_STATIC);
  else if (PyLong_Check (v))
  {
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow (v, &overflow);
    if (overflow)
    {
      PyErr_SetString (PyExc_OverflowError,
                       "Python int too large to convert to SQLite INTEGER");
      return -1;
    }
    if (x == -1 && PyErr_Occurred ())
      return -1;
    rc = sqlite3_bind_int64 (st, i, x);
  }
  else if (PyFloat_Check (v))
  {
    double x = PyFloat_AsDouble (v);
    if (x == -1.0 && PyErr_Occurred ())
      return -1;
    rc = sqlite3_bind_double (st, i, x);
  }
  else if (PyUnicode_Check (v))
    return bind_str (db, st, i, v);
  else if (PyObject_CheckBuffer (v))
  {
    Py_buffer view;
    if (PyObject_GetBuffer (v, &view, PyBUF_SIMPLE) < 0)
      return -1;
    rc = sqlite3_bind_blob64 (st, i, view.buf, (sqlite3_uint64) view.len, SQLITE_TRANSIENT);
    PyBuffer_Release (&view);
  }
  else
  {
    PyErr_Format (sql_ProgrammingError, "Error binding parameter %d: type '%s' is not supported",
                  i, Py_TYPE (v)->tp_name);
    return -1;
  }
  if (rc != SQLITE_OK)
  {
    sql_error (db, rc);
    return -1;
  }
  return 0;
}

/* A column as the sqlite3 module reads it (no converters, str texts). */
static PyObject *column (sqlite3_stmt *st, int i)
{
  switch (sqlite3_column_type (st, i))
  {
    case SQLITE_INTEGER: return PyLong_FromLongLong (sqlite3_column_int64 (st, i));
    case SQLITE_FLOAT: return PyFloat_FromDouble (sqlite3_column_double (st, i));
    case SQLITE_TEXT:
    {
      const char *s = (const char *) sqlite3_column_text (st, i);
      if (s == NULL)
        return PyErr_NoMemory ();
      return PyUnicode_FromStringAndSize (s, sqlite3_column_bytes (st, i));
    }
    case SQLITE_BLOB:
    {
      const void *p = sqlite3_column_blob (st, i);
      int n = sqlite3_column_bytes (st, i);
      if (p == NULL && n)
        return PyErr_NoMemory ();
      return PyBytes_FromStringAndSize (p, n);
    }
    default: Py_RETURN_NONE;
  }
}

PyObject *sql_run (sqlite3 *db, const char *sql, PyObject *params, int rows)
{
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return sql_error (db, rc);
  PyObject *out = rows ? PyList_New (0) : Py_NewRef (Py_None);
  for (Py_ssize_t i = 0; out != NULL && i < PyTuple_GET_SIZE (params); i++)
    if (sql_bind (db, st, (int) i + 1, PyTuple_GET_ITEM (params, i)) < 0)
      Py_CLEAR (out);
  while (out != NULL && (rc = sqlite3_step (st)) == SQLITE_ROW)
  {
    if (!rows)
      continue;
    int n = sqlite3_column_count (st);
    PyObject *row = PyTuple_New (n);
    for (int i = 0; row != NULL && i < n; i++)
    {
      PyObject *c = column (st, i);
      if (c == NULL)
        Py_CLEAR (row);
      else
        PyTuple_SET_ITEM (row, i, c);
    }
    if (row == NULL || PyList_Append (out, row) < 0)
      Py_CLEAR (out);
    Py_XDECREF (row);
  }
  if (out != NULL && rc != SQLITE_DONE)
  {
    sql_error (db, rc);
    Py_CLEAR (out);
  }
  sqlite3_finalize (st);
  return out;
}

/* SQL run as Python's sqlite3 module runs it (its exceptions, how it binds a parameter and
 * reads a column), for _store.c: the store the C writer makes is the one the module would. */

#ifndef STORESQL_H
#define STORESQL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>
#include <string.h>

extern PyObject *sql_IntegrityError, *sql_OperationalError, *sql_DataError,
  *sql_ProgrammingError;

/* The module's exception classes, once. 0, or -1 with an exception set. */
int sql_init (void);

/* The module's exception for a result code, with SQLite's message. NULL. */
PyObject *sql_error (sqlite3 *db, int rc);

/* A parameter bound as the module binds it; a str or bytes in place: it must live until
 * the statement is reset. 0, or -1 with an exception set. */
int sql_bind (sqlite3 *db, sqlite3_stmt *st, int i, PyObject *v);

/* Whether binding b binds what binding a (bound by sql_bind, and alive) did, so that a
 * statement's parameter can keep a's binding from one run to the next (sqlite3_reset keeps
 * bindings): rebinding is ~200 instructions a parameter in SQLite, and half of a store
 * row's are the previous row's values. So: the same object of a type sql_bind binds by
 * value or in place and that cannot change (a row's connection, host and TLS facts are
 * mostly its predecessor's own objects), or an equal exact str or int (an equal str is the
 * same code points in the same kind, so the same UTF-8). Inline: it runs for every
 * parameter of every row. 1, 0, or -1 with an exception set. */
static inline int sql_same_binding (PyObject *a, PyObject *b)
{
  if (a == b)
    return a == Py_None || PyUnicode_CheckExact (a) || PyLong_CheckExact (a)
      || PyFloat_CheckExact (a) || PyBytes_CheckExact (a);
  if (Py_TYPE (a) != Py_TYPE (b))
    return 0;
  if (PyUnicode_CheckExact (a))
  {
    if (PyUnicode_READY (b) < 0)
      return -1;
    Py_ssize_t n = PyUnicode_GET_LENGTH (a);
    int kind = PyUnicode_KIND (a);
    return n == PyUnicode_GET_LENGTH (b) && kind == PyUnicode_KIND (b)
      && memcmp (PyUnicode_DATA (a), PyUnicode_DATA (b), (size_t) n * (size_t) kind) == 0;
  }
  if (PyLong_CheckExact (a))
  {
    int overflow;
    long long y = PyLong_AsLongLongAndOverflow (b, &overflow);
    if (overflow)
      return 0;
    if (y == -1 && PyErr_Occurred ())
      return -1;
    long long x = PyLong_AsLongLong (a); /* bound: within 64 bits */
    return x == -1 && PyErr_Occurred () ? -1 : x == y;
  }
  return 0;
}

/* One statement with its parameters (a tuple) run to its end: its rows as a list of
 * tuples, as the module reads them, when rows; else None. NULL on error. */
PyObject *sql_run (sqlite3 *db, const char *sql, PyObject *params, int rows);

#endif

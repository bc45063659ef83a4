/* SQL run as Python's sqlite3 module runs it (its exceptions, how it binds a parameter and
 * reads a column), for _store.c: the store the C writer makes is the one the module would. */

#ifndef STORESQL_H
#define STORESQL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

extern PyObject *sql_IntegrityError, *sql_OperationalError, *sql_DataError,
  *sql_ProgrammingError;

/* The module's exception classes, once. 0, or -1 with an exception set. */
int sql_init (void);

/* The module's exception for a result code, with SQLite's message. NULL. */
PyObject *sql_error (sqlite3 *db, int rc);

/* A parameter bound as the module binds it; a str or bytes in place: it must live until
 * the statement is reset. 0, or -1 with an exception set. */
int sql_bind (sqlite3 *db, sqlite3_stmt *st, int i, PyObject *v);

/* One statement with its parameters (a tuple) run to its end: its rows as a list of
 * tuples, as the module reads them, when rows; else None. NULL on error. */
PyObject *sql_run (sqlite3 *db, const char *sql, PyObject *params, int rows);

#endif

/* What _rows.c (the row reader, the module) and rowstream.c (Database.stream) share: the
 * Database, the Fallback exception, and reading a column as the sqlite3 module does. */

#ifndef HARNESS_CAPTURE_ROWS_H
#define HARNESS_CAPTURE_ROWS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

#define CACHE 8 /* prepared statements kept per database */

typedef struct
{
  PyObject_HEAD
  sqlite3 *db;
  PyObject *sql[CACHE];  /* the statements' SQL, NULL for a free slot */
  sqlite3_stmt *stmt[CACHE];
  int evict; /* the slot a statement given back to a full cache takes next */
} Database;

/* What cannot be read as the sqlite3 module reads it: the caller reads it with the module. */
extern PyObject *Fallback;

/* Fallback saying what failed and SQLite's message; returns NULL. */
PyObject *rows_fallback (sqlite3 *db, const char *what);

/* The statement for sql (the cache's, or prepared) with args bound, or NULL with an
 * exception set; give it back with rows_release(). */
sqlite3_stmt *rows_statement (Database *d, PyObject *sql, PyObject *args);
void rows_release (Database *d, PyObject *sql, sqlite3_stmt *stmt);

/* A TEXT's n bytes as the module's str (Fallback when not UTF-8); *slot is the column's text
 * in the row before, returned again when equal. */
PyObject *rows_text (PyObject **slot, const unsigned char *text, int n);

/* A column's value v (sqlite3_column_value) of SQLite type `type`, as the module reads it.
 * The value_ functions on what column_value gives cost a few instructions a call; each
 * column_ function costs ~60 (it looks the column up, and checks for a failed malloc,
 * again): the readers call column_value once a column (Database.stream twice a row,
 * rowstream.c's row_values()) and read the value. SQLite calls such a value unprotected,
 * meaning no mutex guards it: the connection is opened NOMUTEX and used by one thread at
 * a time anyway. */
PyObject *rows_value (sqlite3 *db, sqlite3_value *v, int type, PyObject **slot);

/* Database.stream(sql, args, types) (rowstream.c). */
PyObject *rows_stream (Database *d, PyObject *const *argv, Py_ssize_t argc);

#endif

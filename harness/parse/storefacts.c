/* A message's connection facts in a row of their own; see storefacts.h. */

#include "storefacts.h"

/* The draft's fields in a facts row, in the INSERT's order (after the id) */
static const int fcols[NF] = {D_SOURCE, D_CONN, D_PROTOCOL, D_IP, D_PORT, D_SNI,
                              D_TLS_VERSION, D_CIPHER};

int facts_prepare (Facts *f, sqlite3 *db, const char *insert)
{
  int rc = sqlite3_prepare_v2 (db, insert, -1, &f->st, NULL);
  if (rc != SQLITE_OK)
    return sql_error (db, rc), -1;
  if (sqlite3_bind_parameter_count (f->st) == NF + 1)
    return 0;
  PyErr_Format (PyExc_ValueError, "the INSERT of facts binds %d parameters, not %d",
                sqlite3_bind_parameter_count (f->st), NF + 1);
  return -1;
}

void facts_forget (Facts *f)
{
  for (int i = 0; i < NF; i++)
    Py_CLEAR (f->fact[i]);
  Py_CLEAR (f->id);
}

PyObject *facts_of (Facts *f, Rows *r, PyObject *const *v)
{
  int same = f->id != NULL;
  for (int i = 0; same == 1 && i < NF; i++)
    same = sql_same_binding (f->fact[i], v[fcols[i]]);
  if (same < 0)
    return NULL;
  if (same)
    return Py_NewRef (f->id);
  facts_forget (f);
  PyObject *id = PyLong_FromLongLong (f->count + 1);
  int e = id != NULL ? sql_bind (r->db, f->st, 1, id) : -1;
  for (int i = 0; e == 0 && i < NF; i++)
    e = sql_bind (r->db, f->st, i + 2, v[fcols[i]]);
  if (e == 0)
  {
    int rc = sqlite3_step (f->st);
    sqlite3_reset (f->st);
    if (rc != SQLITE_DONE)
      e = (sql_error (r->db, rc), -1);
  }
  sqlite3_clear_bindings (f->st); /* nothing it bound in place is held for it */
  if (e < 0)
  {
    Py_XDECREF (id);
    PyObject *type, *value, *tb;
    PyErr_Fetch (&type, &value, &tb);
    if (rows_flush (r) < 0) /* its error the one raised: those rows are lost */
    {
      Py_XDECREF (type);
      Py_XDECREF (value);
      Py_XDECREF (tb);
    }
    else
      PyErr_Restore (type, value, tb);
    return NULL;
  }
  f->count++;
  for (int i = 0; i < NF; i++)
    f->fact[i] = Py_NewRef (v[fcols[i]]);
  f->id = id;
  return Py_NewRef (id);
}

void facts_close (Facts *f)
{
  sqlite3_finalize (f->st); /* a no-op on NULL */
  f->st = NULL;
}

int facts_traverse (Facts *f, visitproc visit, void *arg)
{
  for (int i = 0; i < NF; i++)
    Py_VISIT (f->fact[i]);
  return 0;
}

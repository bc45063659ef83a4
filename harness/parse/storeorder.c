/* The numbering of a store's messages written from C; see storeorder.h. */

#include "storeorder.h"

#include <stdlib.h>

#include "../growbuf.h"
#include "storejson.h"
#include "storesql.h"

/* A message's place in the numbering: its first_seq, then its key */
typedef struct
{
  long long first, key;
} Place;

static int by_place (const void *a, const void *b)
{
  const Place *x = a, *y = b;
  return x->first != y->first ? (x->first > y->first) - (x->first < y->first)
    : (x->key > y->key) - (x->key < y->key);
}

/* Sorted by_place. Insertion sort while they are nearly in order, as the builder adds them
 * (a connection's messages in order, connections by their first: on the 20 MB benchmark no
 * message is more than 39 places from its own; qsort's merge sort took 440 instructions a
 * message); qsort once that has moved them more than 64 places each on average. */
static void sort_places (Place *p, size_t n)
{
  size_t moves = 0, most = 64 * n;
  for (size_t i = 1; i < n; i++)
  {
    Place x = p[i];
    size_t j = i;
    for (; j > 0 && by_place (&x, &p[j - 1]) < 0; j--)
      p[j] = p[j - 1];
    p[j] = x;
    moves += i - j;
    if (moves > most)
    {
      qsort (p, n, sizeof *p, by_place);
      return;
    }
  }
}

/* The keys in their order as a JSON array ("[3,1,2]", what json.dumps with separators
 * (",", ":") writes), bound as insert's one parameter and run. 0, or -1 with an exception
 * set. */
static int insert_keys (sqlite3 *db, const char *insert, const Place *p, size_t n)
{
  GrowBuf b = {0};
  if (n > (PY_SSIZE_T_MAX - 2) / (INT_TEXT_MAX + 1))
    return PyErr_NoMemory (), -1;
  int e = growbuf_reserve (&b, 2 + n * (INT_TEXT_MAX + 1), 256);
  if (e == 0)
  {
    char *o = b.data;
    *o++ = '[';
    for (size_t i = 0; i < n; i++)
    {
      if (i)
        *o++ = ',';
      o += int_text (o, p[i].key);
    }
    *o++ = ']';
    b.len = (size_t) (o - b.data);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2 (db, insert, -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_bind_parameter_count (st) != 1)
    {
      PyErr_SetString (PyExc_ValueError, "the INSERT of the keys binds one parameter");
      e = -1;
    }
    else
    {
      if (rc == SQLITE_OK)
        rc = sqlite3_bind_text64 (st, 1, b.data, b.len, SQLITE_STATIC, SQLITE_UTF8);
      if (rc == SQLITE_OK)
        rc = sqlite3_step (st);
      if (rc != SQLITE_DONE)
        e = (sql_error (db, rc), -1);
    }
    sqlite3_finalize (st); /* a no-op on NULL */
  }
  PyMem_Free (b.data);
  return e;
}

PyObject *number (sqlite3 *db, PyObject *firsts, long long count, const char *insert,
                  int numbers)
{
  if (PyList_GET_SIZE (firsts) != count)
    Py_RETURN_NONE;
  size_t n = (size_t) count;
  Place *place = PyMem_Malloc (n ? n * sizeof *place : 1);
  if (place == NULL)
    return PyErr_NoMemory ();
  PyObject *out = NULL;
  for (size_t i = 0; i < n; i++)
  {
    PyObject *v = PyList_GET_ITEM (firsts, (Py_ssize_t) i);
    int overflow = 0;
    if (PyLong_CheckExact (v))
      place[i].first = PyLong_AsLongLongAndOverflow (v, &overflow);
    if (!PyLong_CheckExact (v) || overflow)
    {
      out = Py_NewRef (Py_None);
      goto done;
    }
    place[i].key = (long long) i + 1;
  }
  sort_places (place, n);
  if (insert_keys (db, insert, place, n) < 0)
    goto done;
  out = PyList_New (numbers ? (Py_ssize_t) n + 1 : 0);
  if (out != NULL && numbers)
  {
    PyObject *zero = PyLong_FromLong (0);
    if (zero == NULL)
      Py_CLEAR (out);
    else
      PyList_SET_ITEM (out, 0, zero);
  }
  for (size_t i = 0; out != NULL && numbers && i < n; i++)
  {
    PyObject *v = PyLong_FromSize_t (i + 1);
    if (v == NULL)
      Py_CLEAR (out); /* its items not set yet are NULL: a list lets go of the rest */
    else
      PyList_SET_ITEM (out, (Py_ssize_t) place[i].key, v);
  }
done:
  PyMem_Free (place);
  return out;
}

/* Database.stream (rows.h): a connection's rows of capture.sqlite read for reassembly, its
 * stream rows joined per direction as they are stepped through, so that Python touches a
 * connection and not its rows (capture/streamrows.py's StreamRows.of_stream takes what this
 * returns; StreamRows.of_events is the reference it is tested against).
 *
 * It reads each row as _rows.c does (the same Fallback at a text that is not UTF-8, None at
 * a value not of its column's type), and makes Python objects only for what reassembly
 * keeps: each stream row's seq, time and start in its direction's bytes, and the rows read
 * whole (the first stream row, the rows of other kinds).
 */

#include "rows.h"

#include <stdint.h>
#include <string.h>

#define FIRST_CAP 65536 /* a direction's first buffer: most connections' bytes, and growing
                         * one by doubling copies what it holds (a smaller one shrinks in place) */

/* The SQLite types (bit 1 << type) that `want` asks of a column: i an INTEGER, f a FLOAT,
 * t a TEXT, b a BLOB, the letter in upper case that or NULL, * anything; none for another
 * letter. Made once a call: a row's eleven columns are each checked with a shift. */
static unsigned fits (char want)
{
  unsigned null = want >= 'A' && want <= 'Z' ? 1u << SQLITE_NULL : 0;
  switch (want)
  {
  case '*':
    return 1u << SQLITE_INTEGER | 1u << SQLITE_FLOAT | 1u << SQLITE_TEXT | 1u << SQLITE_BLOB
           | 1u << SQLITE_NULL;
  case 'i':
  case 'I':
    return 1u << SQLITE_INTEGER | null;
  case 'f':
  case 'F':
    return 1u << SQLITE_FLOAT | null;
  case 't':
  case 'T':
    return 1u << SQLITE_TEXT | null;
  case 'b':
  case 'B':
    return 1u << SQLITE_BLOB | null;
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
static PyObject *cell (Database *d, sqlite3_value **val, int i, const int *type,
                       PyObject **last, PyObject *row)
{
  if (row != NULL)
    return Py_NewRef (PyTuple_GET_ITEM (row, i));
  return rows_value (d->db, val[i], type[i], &last[i]);
}

static int is_ascii (const unsigned char *p, int n)
{
  uint64_t any = 0; /* eight bytes at a time: a hook's name is ~25 */
  int i = 0;
  for (; i + 8 <= n; i += 8)
  {
    uint64_t w;
    memcpy (&w, p + i, 8);
    any |= w;
  }
  for (; i < n; i++)
    any |= p[i];
  return (any & 0x8080808080808080u) == 0;
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

PyObject *rows_stream (Database *d, PyObject *const *argv, Py_ssize_t argc)
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
  sqlite3_stmt *st = rows_statement (d, argv[0], argv[1]);
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
  sqlite3_value **val = PyMem_Calloc (slots, sizeof (sqlite3_value *)); /* and its value */
  Text *tx = PyMem_Calloc (slots, sizeof (Text));
  unsigned *fit = PyMem_Calloc (slots, sizeof (unsigned)); /* fits() of each column */
  if (!ready || last == NULL || type == NULL || val == NULL || tx == NULL || fit == NULL)
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
    fit[i] = fits (i < C_FIXED ? FIXED_TYPES[i] : extra[i - C_FIXED]);
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
      rows_fallback (d->db, "step");
      break;
    }
    int i = 0;
    while (i < ncols && (fit[i] >> (type[i] = sqlite3_value_type (
                                       val[i] = sqlite3_column_value (st, i))) & 1))
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
      const unsigned char *p = sqlite3_value_text (val[i]);
      tx[i].n = sqlite3_value_bytes (val[i]);
      if (p == NULL && tx[i].n)
        break;
      tx[i].p = p ? p : (const unsigned char *) "";
    }
    if (i < ncols)
    {
      rows_fallback (d->db, "text");
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
        PyObject *v = rows_value (d->db, val[i], type[i], &last[i]);
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
          PyObject *v = rows_text (&last[i], tx[i].p, tx[i].n);
          if (v == NULL)
            break;
          Py_DECREF (v);
        }
      if (i < ncols)
        break;
    }
    /* each fields text once (a repeated one is the str of the row before, rows_text()) */
    PyObject *f = row != NULL ? Py_NewRef (PyTuple_GET_ITEM (row, C_FIELDS))
                              : rows_text (&last[C_FIELDS], tx[C_FIELDS].p, tx[C_FIELDS].n);
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
      trunc = sqlite3_value_int64 (val[C_TRUNCATED]) != 0;
    else
    {
      PyObject *v = cell (d, val, C_TRUNCATED, type, last, row);
      trunc = v == NULL ? -1 : PyObject_IsTrue (v);
      Py_XDECREF (v);
      if (trunc < 0)
        break;
    }
    const void *b = type[C_DATA] == SQLITE_BLOB ? sqlite3_value_blob (val[C_DATA]) : NULL;
    int n = type[C_DATA] == SQLITE_BLOB ? sqlite3_value_bytes (val[C_DATA]) : 0;
    if (b == NULL && n != 0)
    {
      rows_fallback (d->db, "blob");
      break;
    }
    long long orig = type[C_ORIG_LEN] == SQLITE_INTEGER
                     ? sqlite3_value_int64 (val[C_ORIG_LEN]) : 0;
    long long lost = trunc && orig > n ? orig - n : 0;  /* orig > n >= 0: no overflow */
    PyObject *seq = cell (d, val, C_SEQ, type, last, row);
    PyObject *t = seq ? cell (d, val, C_T, type, last, row) : NULL;
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
  PyMem_Free (val);
  PyMem_Free (tx);
  PyMem_Free (fit);
  side_clear (&sides[0]);
  side_clear (&sides[1]);
  Py_XDECREF (rows);
  Py_XDECREF (texts);
  Py_XDECREF (text);
  rows_release (d, argv[0], st);
  return result;
}

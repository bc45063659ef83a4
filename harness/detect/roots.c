/* A message's roots in C (rootpairs.root_pairs): its URL, each query parameter, each header,
 * its body, as (chain, bytes), for the URLs a capture is full of; None for the rest, which
 * root_pairs does in Python (tests/detect/test_roots.py compares the two on hostile URLs).
 *
 * roots(url, head, with_path, headers, body) where head is the chain's first step, to which
 * the URL's path is added when with_path (a request's label, rootpairs.root_label); url is ""
 * for none.
 *
 * What is done here is exactly rootpairs.path_query's fast path (an ASCII URL, no C0 control
 * or space in front, no tab or newline, no bracket in its netloc), query_pairs (parse_qsl:
 * '+' as space, then %-escapes as urllib.parse.unquote reads them: two hex digits or left as
 * they are, the bytes decoded as UTF-8 with U+FFFD for what is not), and text.utf8 of the
 * values (the egress.surrogates codec error handler, through the codec itself). A header's
 * step and bytes are kept by its name's and value's str objects, which recur (cached).
 *
 * The batch loop (findbatch.c) walks the roots as they are made here, a C array of (step,
 * bytes) under one label (expand.h's Roots): a (chain, bytes) tuple for each root and the
 * list of them, made to be taken apart again by the walk and freed, cost ~230 instructions a
 * root. roots_list makes the list where Python takes the roots (roots(), and a message the C
 * walk hands back to the Python one).
 */

#include "roots.h"
#include "unquote.h"
#include "words.h"

#include <string.h>

/* Whether u[0, n) holds a tab, CR or LF (what urlsplit deletes): eight bytes at a time where
   none is a C0 control (all of most URLs), a byte at a time from the first word that has one. */
static int unsafe (const char *u, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  while (i + 8 <= n && control_bytes (load8 ((const unsigned char *) u + i)) == 0)
    i += 8;
  for (; i < n; i++)
    if (u[i] == '\t' || u[i] == '\r' || u[i] == '\n')
      return 1;
  return 0;
}

/* A netloc's bytes: 1 for those that end it ('/', '?', '#'), 2 for the brackets the fast path
   leaves to urlsplit; one look a byte where there were two loops. */
static const unsigned char NETLOC[256] = { ['/'] = 1, ['?'] = 1, ['#'] = 1, ['['] = 2,
  [']'] = 2 };

/* rootpairs.path_query's fast path over an ASCII URL u[0, n): the path and the query as
   offsets; 0 where the fast path does not apply (urlsplit's own steps are needed). */
static int path_query (const char *u, Py_ssize_t n, Py_ssize_t *pa, Py_ssize_t *pz,
    Py_ssize_t *qa, Py_ssize_t *qz)
{
  if (n == 0 || (unsigned char) u[0] <= ' ' || unsafe (u, n))
    return 0;
  Py_ssize_t rest = 0, i = 0; /* _SCHEME: a letter, scheme characters, ':' */
  if ((u[0] | 0x20) >= 'a' && (u[0] | 0x20) <= 'z')
  {
    for (i = 1; i < n && (((u[i] | 0x20) >= 'a' && (u[i] | 0x20) <= 'z')
             || (u[i] >= '0' && u[i] <= '9') || u[i] == '+' || u[i] == '.' || u[i] == '-');)
      i++;
    if (i < n && u[i] == ':')
      rest = i + 1;
  }
  if (n - rest >= 2 && u[rest] == '/' && u[rest + 1] == '/')
  {
    Py_ssize_t end = rest + 2;
    unsigned char kinds = 0;
    for (; end < n && !(NETLOC[(unsigned char) u[end]] & 1); end++)
      kinds |= NETLOC[(unsigned char) u[end]];
    if (kinds & 2)
      return 0;
    rest = end;
  }
  const char *hash = memchr (u + rest, '#', (size_t) (n - rest));
  Py_ssize_t stop = hash != NULL ? hash - u : n;
  const char *q = memchr (u + rest, '?', (size_t) (stop - rest));
  *pa = rest;
  *pz = q != NULL ? q - u : stop;
  *qa = q != NULL ? *pz + 1 : stop;
  *qz = stop;
  return 1;
}

/* A query name or value, s[0, n) of ASCII, read as query_pairs reads it: text (a name) or the
   UTF-8 of that text (a value, text.utf8). New reference, NULL with an exception set. */
static PyObject *query_part (const char *s, Py_ssize_t n, int text, char *buf)
{
  Py_ssize_t k = unquote ((const unsigned char *) s, n, (unsigned char *) buf, 1);
  int ascii = 1;
  for (Py_ssize_t i = 0; i < k && ascii; i++)
    ascii = (unsigned char) buf[i] < 0x80;
  if (ascii)
    return text ? PyUnicode_DecodeASCII (buf, k, NULL) : PyBytes_FromStringAndSize (buf, k);
  /* unquote decodes the bytes as UTF-8 with errors="replace"; utf8() of that text has no
     surrogate to treat (U+FFFD stands for what was not UTF-8) */
  PyObject *str = PyUnicode_DecodeUTF8 (buf, k, "replace");
  if (str == NULL || text)
    return str;
  PyObject *b = PyUnicode_AsUTF8String (str);
  Py_DECREF (str);
  return b;
}

/* text.utf8(s): the codec with its error handler, an ASCII string copied. */
static PyObject *utf8 (PyObject *s)
{
  if (PyUnicode_IS_ASCII (s))
    return PyBytes_FromStringAndSize (PyUnicode_DATA (s), PyUnicode_GET_LENGTH (s));
  return PyUnicode_AsEncodedString (s, "utf-8", "egress.surrogates");
}

/* prefix + s, both str. */
static PyObject *step (PyObject *prefix, PyObject *s)
{
  return s == NULL ? NULL : PyUnicode_Concat (prefix, s);
}

/* Sets r->v[r->n] to (step, data) and moves on, taking the references of step and data (r has
   room for it). */
static int add (Roots *r, PyObject *step, PyObject *data)
{
  if (step == NULL || data == NULL)
  {
    Py_XDECREF (step);
    Py_XDECREF (data);
    return 0;
  }
  r->v[r->n++] = (Root) { step, data };
  return 1;
}

static PyObject *URL, *QUERY, *HEADER; /* "url", "query:", "header:" */

/* A query parameter's chain step: "query:" + its name s[0, n) read as query_part reads it. */
static PyObject *query_step (const char *s, Py_ssize_t n, char *buf)
{
  Py_ssize_t k = unquote ((const unsigned char *) s, n, (unsigned char *) buf, 1);
  int ascii = 1;
  for (Py_ssize_t i = 0; i < k && ascii; i++)
    ascii = (unsigned char) buf[i] < 0x80;
  if (!ascii) /* query_part's way, decoded */
  {
    PyObject *name = PyUnicode_DecodeUTF8 (buf, k, "replace");
    PyObject *label_step = step (QUERY, name);
    Py_XDECREF (name);
    return label_step;
  }
  PyObject *label_step = PyUnicode_New (6 + k, 127);
  if (label_step != NULL)
  {
    memcpy (PyUnicode_DATA (label_step), "query:", 6);
    memcpy ((char *) PyUnicode_DATA (label_step) + 6, buf, (size_t) k);
  }
  return label_step;
}

/* How many pairs the query u[qa, qz) has: its pieces between '&' that are not empty. */
static Py_ssize_t query_count (const char *u, Py_ssize_t qa, Py_ssize_t qz)
{
  Py_ssize_t count = 0;
  for (Py_ssize_t a = qa; a < qz;)
  {
    const char *amp = memchr (u + a, '&', (size_t) (qz - a));
    Py_ssize_t z = amp != NULL ? amp - u : qz;
    count += z > a;
    a = z + 1;
  }
  return count;
}

/* The query's pairs u[qa, qz) as roots, after r's. 0 with an exception set. */
static int add_query (Roots *r, const char *u, Py_ssize_t qa, Py_ssize_t qz)
{
  char small[512];
  char *buf = qz - qa <= (Py_ssize_t) sizeof small ? small : PyMem_Malloc ((size_t) (qz - qa));
  if (buf == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  int ok = 1;
  for (Py_ssize_t a = qa; ok && a < qz;)
  {
    const char *amp = memchr (u + a, '&', (size_t) (qz - a));
    Py_ssize_t z = amp != NULL ? amp - u : qz;
    if (z > a)
    {
      const char *eq = memchr (u + a, '=', (size_t) (z - a));
      Py_ssize_t e = eq != NULL ? eq - u : z, v = eq != NULL ? e + 1 : z;
      PyObject *label_step = query_step (u + a, e - a, buf);
      ok = add (r, label_step, label_step != NULL ? query_part (u + v, z - v, 0, buf) : NULL);
    }
    a = z + 1;
  }
  if (buf != small)
    PyMem_Free (buf);
  return ok;
}

/* A header's name as its chain step: "header:" + name.lower(). */
static PyObject *header_step (PyObject *name)
{
  if (!PyUnicode_IS_ASCII (name))
  {
    PyObject *lower = PyObject_CallMethod (name, "lower", NULL);
    PyObject *s = step (HEADER, lower);
    Py_XDECREF (lower);
    return s;
  }
  Py_ssize_t n = PyUnicode_GET_LENGTH (name);
  PyObject *s = PyUnicode_New (7 + n, 127);
  if (s == NULL)
    return NULL;
  char *o = PyUnicode_DATA (s);
  const char *d = PyUnicode_DATA (name);
  memcpy (o, "header:", 7);
  for (Py_ssize_t i = 0; i < n; i++)
    o[7 + i] = d[i] >= 'A' && d[i] <= 'Z' ? (char) (d[i] | 0x20) : d[i];
  return s;
}

/* Header names and most values recur from message to message as the same str objects (the
   HTTP parsers keep them between messages by their bytes: 10 names and ~11,400 value objects
   for the 20 MB bench run's 65,090 headers), so their chain steps and bytes are made once and
   found again by the object's address. A slot holds a reference to its key, so no other
   object has that address while it is there; only what new objects would make is kept (str
   in, str or bytes out, made before the slot is touched: nothing runs between its reading
   and its writing). */
typedef struct {
  PyObject *key, *made;
} Slot;

#define NAME_SLOTS 64
#define VALUE_SLOTS 256
#define VALUE_KEPT 512 /* longer values are made each time, not held in a slot */
static Slot name_slots[NAME_SLOTS], value_slots[VALUE_SLOTS];

/* make(key) as a new reference, from slots[] (a power of two of them) when it is there; a
   str subclass's is made each time (its methods may say otherwise from one call to the
   next). */
static PyObject *cached (Slot *slots, size_t size, PyObject *key,
    PyObject *(*make) (PyObject *))
{
  if (!PyUnicode_CheckExact (key))
    return make (key);
  uintptr_t p = (uintptr_t) key;
  Slot *s = &slots[((p >> 4) ^ (p >> 13)) & (size - 1)];
  if (s->key == key)
    return Py_NewRef (s->made);
  PyObject *made = make (key);
  if (made != NULL)
  {
    PyObject *key_was = s->key, *made_was = s->made;
    s->key = Py_NewRef (key);
    s->made = Py_NewRef (made);
    Py_XDECREF (key_was);
    Py_XDECREF (made_was);
  }
  return made;
}

/* A header's value as its root's bytes. */
static PyObject *value_bytes (PyObject *value)
{
  return PyUnicode_GET_LENGTH (value) > VALUE_KEPT ? utf8 (value)
      : cached (value_slots, VALUE_SLOTS, value, utf8);
}

/* The chain's first step: the head's parts joined, then u[pa, pz) (the URL's path, ASCII). */
static PyObject *label_of (PyObject *const *head, int parts, const char *u, Py_ssize_t pa,
    Py_ssize_t pz)
{
  Py_ssize_t n = pz - pa;
  int ascii = 1;
  for (int i = 0; i < parts; i++)
  {
    n += PyUnicode_GET_LENGTH (head[i]);
    ascii = ascii && PyUnicode_IS_ASCII (head[i]);
  }
  if (parts == 1 && pz == pa)
    return Py_NewRef (head[0]);
  if (!ascii) /* rare: the general way */
  {
    PyObject *path = PyUnicode_FromKindAndData (PyUnicode_1BYTE_KIND, u + pa, pz - pa);
    PyObject *all = path != NULL ? PyTuple_New (parts + 1) : NULL;
    for (int i = 0; all != NULL && i < parts; i++)
      PyTuple_SET_ITEM (all, i, Py_NewRef (head[i]));
    if (all != NULL)
      PyTuple_SET_ITEM (all, parts, Py_NewRef (path));
    PyObject *empty = all != NULL ? PyUnicode_New (0, 0) : NULL; /* NULL would join by ' ' */
    PyObject *label = empty != NULL ? PyUnicode_Join (empty, all) : NULL;
    Py_XDECREF (empty);
    Py_XDECREF (all);
    Py_XDECREF (path);
    return label;
  }
  PyObject *label = PyUnicode_New (n, 127);
  if (label == NULL)
    return NULL;
  char *o = PyUnicode_DATA (label);
  for (int i = 0; i < parts; i++)
  {
    memcpy (o, PyUnicode_DATA (head[i]), (size_t) PyUnicode_GET_LENGTH (head[i]));
    o += PyUnicode_GET_LENGTH (head[i]);
  }
  memcpy (o, u + pa, (size_t) (pz - pa));
  return label;
}

void roots_clear (Roots *r)
{
  for (Py_ssize_t i = 0; i < r->n; i++)
  {
    Py_XDECREF (r->v[i].step);
    Py_DECREF (r->v[i].data);
  }
  r->n = 0;
  Py_CLEAR (r->label);
}

void roots_free (Roots *r)
{
  roots_clear (r);
  PyMem_Free (r->v);
  r->v = NULL;
  r->cap = 0;
}

int roots_make (Roots *r, PyObject *url, PyObject *const *head, int parts, int with_path,
    PyObject *headers, PyObject *body)
{
  if (!PyTuple_Check (headers) || !PyBytes_Check (body))
    return 0; /* what Python makes of them, Python says */
  if (URL == NULL && ((URL = PyUnicode_InternFromString ("url")) == NULL
          || (QUERY = PyUnicode_InternFromString ("query:")) == NULL
          || (HEADER = PyUnicode_InternFromString ("header:")) == NULL))
  {
    Py_CLEAR (URL);
    Py_CLEAR (QUERY);
    return -1;
  }
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE (headers); i++)
  {
    PyObject *h = PyTuple_GET_ITEM (headers, i);
    if (!PyTuple_Check (h) || PyTuple_GET_SIZE (h) != 2
        || !PyUnicode_Check (PyTuple_GET_ITEM (h, 0)) || !PyUnicode_Check (PyTuple_GET_ITEM (h, 1)))
      return 0; /* what Python makes of it, Python says */
  }
  Py_ssize_t n = PyUnicode_GET_LENGTH (url), pa = 0, pz = 0, qa = 0, qz = 0;
  const char *u = PyUnicode_DATA (url);
  if (n > 0 && !(PyUnicode_IS_ASCII (url) && path_query (u, n, &pa, &pz, &qa, &qz)))
    return 0;
  Py_ssize_t queries = n > 0 && qz > qa ? query_count (u, qa, qz) : 0;
  Py_ssize_t size = (n > 0) + queries + PyTuple_GET_SIZE (headers)
      + (PyBytes_GET_SIZE (body) > 0);
  if (size > r->cap)
  {
    Root *v = PyMem_Realloc (r->v, sizeof (Root) * (size_t) size);
    if (v == NULL)
    {
      PyErr_NoMemory ();
      return -1;
    }
    r->v = v;
    r->cap = size;
  }
  r->n = 0;
  r->label = label_of (head, parts, u, pa, with_path ? pz : pa);
  int ok = r->label != NULL;
  if (ok && n > 0)
    ok = add (r, Py_NewRef (URL), utf8 (url)) && (queries == 0 || add_query (r, u, qa, qz));
  for (Py_ssize_t i = 0; ok && i < PyTuple_GET_SIZE (headers); i++)
  {
    PyObject *h = PyTuple_GET_ITEM (headers, i);
    PyObject *name = cached (name_slots, NAME_SLOTS, PyTuple_GET_ITEM (h, 0), header_step);
    ok = add (r, name, name != NULL ? value_bytes (PyTuple_GET_ITEM (h, 1)) : NULL);
  }
  if (ok && PyBytes_GET_SIZE (body) > 0)
    r->v[r->n++] = (Root) { NULL, Py_NewRef (body) };
  if (ok && r->n != size) /* what was counted is what the room was made for */
  {
    PyErr_SetString (PyExc_SystemError, "roots: their number was miscounted");
    ok = 0;
  }
  if (!ok)
    roots_clear (r);
  return ok ? 1 : -1;
}

PyObject *roots_list (const Roots *r)
{
  PyObject *out = PyList_New (r->n);
  for (Py_ssize_t i = 0; out != NULL && i < r->n; i++)
  {
    const Root *root = &r->v[i];
    PyObject *chain = root->step != NULL ? PyTuple_Pack (2, r->label, root->step)
        : PyTuple_Pack (1, r->label);
    PyObject *pair = chain != NULL ? PyTuple_Pack (2, chain, root->data) : NULL;
    Py_XDECREF (chain);
    if (pair == NULL)
      Py_CLEAR (out);
    else
      PyList_SET_ITEM (out, i, pair);
  }
  return out;
}

PyObject *detect_roots (PyObject *self, PyObject *args)
{
  PyObject *url, *head, *headers, *body;
  int with_path;
  (void) self;
  if (!PyArg_ParseTuple (args, "UUpOO", &url, &head, &with_path, &headers, &body))
    return NULL;
  Roots r = { NULL, NULL, 0, 0 };
  int made = roots_make (&r, url, &head, 1, with_path, headers, body);
  PyObject *out = made > 0 ? roots_list (&r) : made == 0 ? Py_NewRef (Py_None) : NULL;
  roots_free (&r);
  return out;
}

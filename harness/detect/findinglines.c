/* findings.json's lines in C (harness/detect/finding.py's json_lines stays the reference),
 * for _outjson.c's findings_json and for the numbering (numbering.c), which writes each
 * Finding's line as it makes it: 133,000 findings on the 200 MB benchmark, where the Python
 * lines cost ~16,800 instructions a finding, a third of them the repr of its time
 * (floatrepr.c).
 *
 * The text is json_lines' lines joined by ",\n", UTF-8 encoded as findings.json is written
 * (a lone surrogate as its "\udxxx", what the file's backslashreplace writes), built in one
 * buffer that is the bytes object returned. A finding of the types Finding declares (a
 * Finding itself; str fields, or None where the field may be; a tuple of str for its chain; a
 * bool for control; None or a float for its time; a NeedleClass whose value is a str) is
 * written from its slots; any other is line(f)'s line, encoded the same way: whatever Python
 * makes of it, error included, the reference does. tests/detect/test_outjson.py compares
 * the two on generated findings. */

#include "findinglines.h"
#include "floatrepr.h"
#include "jsonbuf.h"
#include "../slotoffset.h"
#include "findingfields.h"

#include <stdint.h>
#include <structmember.h>

static PyObject *s_value;

/* The str, or null for None */
static int put_str_or_null (Buf *b, PyObject *s)
{
  return s == Py_None ? PUT (b, "null") : put_str (b, s);
}

/* A str field (str subclasses too: encode_basestring writes their text) */
#define IS_STR(v) PyUnicode_Check (v)
#define IS_STR_OR_NONE(v) ((v) == Py_None || PyUnicode_Check (v))

/* Text written already, by where it is in the buffer (which only grows) */
typedef struct
{
  size_t off, len;
} Seg;

/* A needle's name and its class's value, and their text: ', "needle": .., "class": ..' */
typedef struct
{
  PyObject *needle, *value;
  Seg seg;
} Head;

/* The values of the classes met (NeedleClass has a handful), the last time's text, and
   the text of what findings share: a needle's name and class (by the two objects) and a
   message's host, phase and id (the last finding's objects: a message's findings come one
   after another); all held, so that an address is not another object's. (Chains are
   shared by value, not as objects: 694 different ones among the 20 MB run's 13,309
   findings, none the same tuple; a table of them by hash cost more, in hashing and
   comparing the tuples, than it saved.) */
#define CLASSES 16
#define HEADS 64
typedef struct
{
  PyObject *cls[CLASSES], *value[CLASSES];
  int n;
  PyObject *t;
  char text[FLOAT_REPR_MAX];
  int len;
  Head heads[HEADS];
  PyObject *host, *phase, *message;
  Seg where;
} Last;

/* A slot of n (a power of two) for an object, from its address's bits multiplied by
   2^64 / phi: objects of one size are as far apart as their size, so the address's low
   bits are the same for all */
#define ADDRESS_SLOT(p, n) \
  ((size_t) (((uint64_t) (uintptr_t) (p) * 0x9e3779b97f4a7c15u) >> 32) & ((n) - 1))

/* Let go of what last holds */
static void last_clear (Last *last)
{
  for (int i = 0; i < last->n; i++)
    Py_DECREF (last->cls[i]), Py_DECREF (last->value[i]);
  Py_XDECREF (last->t);
  for (int i = 0; i < HEADS; i++)
    Py_XDECREF (last->heads[i].needle), Py_XDECREF (last->heads[i].value);
  Py_XDECREF (last->host), Py_XDECREF (last->phase), Py_XDECREF (last->message);
}

/* The text at seg again */
static int put_again (Buf *b, Seg seg)
{
  if (reserve (b, seg.len) < 0)
    return -1;
  memcpy (b->data + b->len, b->data + seg.off, seg.len);
  b->len += seg.len;
  return 0;
}

/* ', "needle": .., "class": ..' */
static int put_head (Buf *b, PyObject *needle, PyObject *value, Last *last)
{
  Head *h = &last->heads[ADDRESS_SLOT (needle, HEADS)];
  if (h->needle == needle && h->value == value)
    return put_again (b, h->seg);
  size_t start = b->len;
  if (PUT (b, ", \"needle\": ") < 0 || put_str (b, needle) < 0 || PUT (b, ", \"class\": ") < 0
      || put_str (b, value) < 0)
    return -1;
  Py_XSETREF (h->needle, Py_NewRef (needle));
  Py_XSETREF (h->value, Py_NewRef (value));
  h->seg = (Seg) { start, b->len - start };
  return 0;
}

/* ', "host": .., "phase": .., "message": ..' */
static int put_where (Buf *b, PyObject *host, PyObject *phase, PyObject *message, Last *last)
{
  if (last->message == message && last->host == host && last->phase == phase)
    return put_again (b, last->where);
  size_t start = b->len;
  if (PUT (b, ", \"host\": ") < 0 || put_str_or_null (b, host) < 0
      || PUT (b, ", \"phase\": ") < 0 || put_str_or_null (b, phase) < 0
      || PUT (b, ", \"message\": ") < 0 || put_str (b, message) < 0)
    return -1;
  Py_XSETREF (last->host, Py_NewRef (host));
  Py_XSETREF (last->phase, Py_NewRef (phase));
  Py_XSETREF (last->message, Py_NewRef (message));
  last->where = (Seg) { start, b->len - start };
  return 0;
}

/* The finding's line from its slots: 1, 0 for one of other types (nothing written), or -1
   with an exception */
static int put_finding (Buf *b, PyObject *f, const Py_ssize_t *off, Last *last)
{
  /* the class's value first: its lookup may run Python, the rest runs none */
  PyObject *cls = *(PyObject **) ((char *) f + off[F_CLS]);
  if (cls == NULL)
    return 0; /* unset: the reference's AttributeError */
  int c = 0;
  while (c < last->n && last->cls[c] != cls)
    c++;
  if (c == last->n)
  {
    Py_INCREF (cls); /* the lookup may run Python that lets go of f.cls */
    PyObject *got = PyObject_GetAttr (cls, s_value);
    if (got == NULL || !IS_STR (got))
    {
      Py_XDECREF (got);
      Py_DECREF (cls);
      PyErr_Clear (); /* the reference says why */
      return 0;
    }
    if (c == CLASSES) /* more than an enum has: the one cached first makes room */
    {
      c = 0;
      Py_DECREF (last->cls[0]), Py_DECREF (last->value[0]);
    }
    else
      last->n++;
    last->cls[c] = cls, last->value[c] = got; /* cls: the reference taken above */
  }
  PyObject *v[FN];
  for (int i = 0; i < FN; i++)
    if ((v[i] = *(PyObject **) ((char *) f + off[i])) == NULL)
      return 0;
  if (v[F_CLS] != cls)
    return 0; /* changed by the lookup: the reference */
  PyObject *chain = v[F_CHAIN], *t = v[F_T];
  if (!IS_STR (v[F_ID]) || !IS_STR (v[F_NEEDLE]) || !IS_STR_OR_NONE (v[F_HOST])
      || !IS_STR_OR_NONE (v[F_PHASE]) || !IS_STR (v[F_MESSAGE]) || !IS_STR (v[F_EXCERPT])
      || !PyBool_Check (v[F_CONTROL]) || !PyTuple_CheckExact (chain)
      || (t != Py_None && !PyFloat_CheckExact (t)))
    return 0;
  Py_ssize_t nchain = PyTuple_GET_SIZE (chain);
  for (Py_ssize_t i = 0; i < nchain; i++)
    if (!IS_STR (PyTuple_GET_ITEM (chain, i)))
      return 0;
  if (PUT (b, "{\"id\": ") < 0 || put_str (b, v[F_ID]) < 0
      || put_head (b, v[F_NEEDLE], last->value[c], last) < 0
      || put_where (b, v[F_HOST], v[F_PHASE], v[F_MESSAGE], last) < 0
      || PUT (b, ", \"chain\": [") < 0)
    return -1;
  for (Py_ssize_t i = 0; i < nchain; i++)
    if ((i && PUT (b, ", ") < 0) || put_str (b, PyTuple_GET_ITEM (chain, i)) < 0)
      return -1;
  if (PUT (b, "], \"excerpt\": ") < 0 || put_str (b, v[F_EXCERPT]) < 0
      || (v[F_CONTROL] == Py_True ? PUT (b, ", \"control\": true, \"t\": ")
          : PUT (b, ", \"control\": false, \"t\": ")) < 0)
    return -1;
  if (t == Py_None)
    return PUT (b, "null}") < 0 ? -1 : 1;
  if (t != last->t) /* a message's findings share its time: its text is kept */
  {
    double x = PyFloat_AS_DOUBLE (t);
    int n = Py_IS_NAN (x) ? (memcpy (last->text, "NaN", 3), 3)
      : !Py_IS_INFINITY (x) ? float_repr (x, last->text)
      : x > 0 ? (memcpy (last->text, "Infinity", 8), 8) : (memcpy (last->text, "-Infinity", 9), 9);
    if (n < 0)
      return -1;
    Py_XSETREF (last->t, Py_NewRef (t));
    last->len = n;
  }
  return put (b, last->text, (size_t) last->len) < 0 || PUT (b, "}") < 0 ? -1 : 1;
}

/* The str line (a line(f) result), encoded as findings.json is written */
static int put_text (Buf *b, PyObject *line)
{
  if (!PyUnicode_Check (line))
  {
    PyErr_Format (PyExc_TypeError, "findings_json: a line is %s, not str",
                  Py_TYPE (line)->tp_name);
    return -1;
  }
  Py_ssize_t n = PyUnicode_GET_LENGTH (line);
  if (reserve (b, 6 * (size_t) n) < 0) /* six bytes at most a character */
    return -1;
  int kind = PyUnicode_KIND (line);
  const void *data = PyUnicode_DATA (line);
  char *p = b->data + b->len;
  for (Py_ssize_t i = 0; i < n; i++)
  {
    Py_UCS4 c = PyUnicode_READ (kind, data, i);
    if (c < 0x80) /* already JSON: as it is */
      *p++ = (char) c;
    else
      p = put_char (p, c);
  }
  b->len = (size_t) (p - b->data);
  return 0;
}

/* The writer of findings.json's text (findinglines.h) */
struct Lines
{
  Buf b;
  Last last;
  Py_ssize_t off[FN];
  PyTypeObject *finding;
  PyObject *line;
  Py_ssize_t n; /* lines written */
};

Lines *lines_new (PyTypeObject *finding, PyObject *line)
{
  if (s_value == NULL && (s_value = PyUnicode_InternFromString ("value")) == NULL)
    return NULL;
  Lines *l = PyMem_Calloc (1, sizeof (Lines));
  if (l == NULL)
  {
    PyErr_NoMemory ();
    return NULL;
  }
  for (int i = 0; i < FN; i++)
    if (slot_offset (finding, FINDING[i], &l->off[i]) < 0)
    {
      PyMem_Free (l);
      return NULL;
    }
  l->finding = (PyTypeObject *) Py_NewRef (finding);
  l->line = Py_NewRef (line);
  return l;
}

int lines_put (Lines *l, PyObject *f)
{
  if (l->n++ && PUT (&l->b, ",\n") < 0)
    return -1;
  Py_INCREF (f); /* line() may run Python that lets go of it */
  int got = Py_IS_TYPE (f, l->finding) ? put_finding (&l->b, f, l->off, &l->last) : 0;
  if (got == 0)
  {
    PyObject *text = PyObject_CallOneArg (l->line, f);
    got = text == NULL ? -1 : put_text (&l->b, text);
    Py_XDECREF (text);
  }
  Py_DECREF (f);
  return got < 0 ? -1 : 0;
}

void lines_free (Lines *l)
{
  if (l == NULL)
    return;
  buf_free (&l->b);
  last_clear (&l->last);
  Py_DECREF (l->finding);
  Py_DECREF (l->line);
  PyMem_Free (l);
}

size_t lines_held (const Lines *l)
{
  return l->b.len;
}

/* The text's segments written already (put_again's) forgotten, for a buffer that starts again */
static void forget_text (Last *last)
{
  for (int i = 0; i < HEADS; i++)
  {
    Py_CLEAR (last->heads[i].needle);
    Py_CLEAR (last->heads[i].value);
  }
  Py_CLEAR (last->host);
  Py_CLEAR (last->phase);
  Py_CLEAR (last->message);
}

int lines_flush (Lines *l, PyObject *write)
{
  if (l->b.len == 0)
    return 0;
  PyObject *view = PyMemoryView_FromMemory (l->b.data, (Py_ssize_t) l->b.len, PyBUF_READ);
  if (view == NULL)
    return -1;
  PyObject *got = PyObject_CallOneArg (write, view);
  /* released, so that a view write kept reads nothing of the bytes written over next */
  PyObject *type, *value, *tb;
  PyErr_Fetch (&type, &value, &tb);
  PyObject *released = PyObject_CallMethod (view, "release", NULL);
  if (released == NULL && type != NULL)
    PyErr_Clear (); /* write's error first */
  if (type != NULL)
    PyErr_Restore (type, value, tb);
  Py_DECREF (view);
  l->b.len = 0;
  forget_text (&l->last);
  int ok = got != NULL && released != NULL;
  Py_XDECREF (got);
  Py_XDECREF (released);
  return ok ? 0 : -1;
}

PyObject *lines_done (Lines *l)
{
  PyObject *out = buf_bytes (&l->b);
  lines_free (l);
  return out;
}

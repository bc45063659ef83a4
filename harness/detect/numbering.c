/* Findings numbered in the store's order, for harness analyze (analysis.py's _numbered):
 * ``numbered(_store_order(found, numbers))`` (findings.py, analysis.py, the reference) and
 * the classifier's ids renumbered, ``[f"m{n}" for n in sorted(numbers[int(i[1:])] for i
 * in ids)]`` for each host's. In Python ~21,000 instructions a finding (the runs, a render
 * then, a Finding's ten slots set through their descriptors) and ~3,700 an id.
 *
 * A message's store id ("m<n>") is made once, for the first of the two that needs it, and
 * kept in names (a list by key, None where not made yet), which both take: a message with
 * findings is under a host too. Each returns None, having made nothing that outlives it
 * but names' ids, for what it does not take, and the caller runs the reference: found as a
 * list of 8-tuples whose message ids are "k" then ASCII digits; numbers a list of ints that
 * fit a long long (for the hosts' ids, a permutation of its indexes, as the store numbers
 * its keys from 1 and 0 is no key's; and no id twice); a needle's name and class read
 * without an error. The excerpt is the one found.c rendered (found's item 3, whatever it
 * is, as the reference takes it). A Finding is made as harness.slots.maker makes it:
 * tp_alloc, then its slots set in field order. tests/detect/test_numbering.py compares both with the
 * reference. */

#include "numbering.h"
#include "findinglines.h"
#include "../slotoffset.h"
#include "findingfields.h"
#include "keyid.h"

#include <stdint.h>
#include <structmember.h>

/* int(mid[1:]) for a key id "k<digits>" below limit: 1 with *key, else 0 */
static int key_of (PyObject *mid, Py_ssize_t limit, Py_ssize_t *key)
{
  return key_id_key (mid, 0, key) && *key < limit;
}

/* numbers[key], an int that fits a long long: 1 with *num, else 0 */
static int number_at (PyObject *numbers, Py_ssize_t key, long long *num)
{
  PyObject *v = PyList_GET_ITEM (numbers, key);
  if (!PyLong_CheckExact (v))
    return 0;
  int overflow;
  *num = PyLong_AsLongLongAndOverflow (v, &overflow);
  return !overflow; /* an int cannot fail otherwise */
}

/* Two digits each, "00" to "99" */
static const char PAIRS[] = "00010203040506070809101112131415161718192021222324252627282930313233"
  "34353637383940414243444546474849505152535455565758596061626364656667686970717273747576"
  "7778798081828384858687888990919293949596979899";

/* prefix then the decimal num, a new str: its length counted first, then its digits written
   into it two at a time from the end (~45,000 of them on the 20 MB run, each digit a
   division when made one at a time in a buffer and copied) */
static PyObject *tagged (char prefix, long long num)
{
  unsigned long long u = num < 0 ? 0 - (unsigned long long) num : (unsigned long long) num;
  Py_ssize_t digits = 1;
  for (unsigned long long p = 10; digits < 20 && u >= p; p *= 10)
    digits++;
  Py_ssize_t sign = num < 0, n = 1 + sign + digits;
  PyObject *s = PyUnicode_New (n, 127);
  if (s == NULL)
    return NULL;
  char *text = PyUnicode_DATA (s), *p = text + n;
  for (; u >= 100; u /= 100)
    p -= 2, memcpy (p, PAIRS + 2 * (u % 100), 2);
  if (u >= 10)
    p -= 2, memcpy (p, PAIRS + 2 * u, 2);
  else
    *--p = (char) ('0' + u);
  text[0] = prefix;
  if (sign)
    text[1] = '-';
  return s;
}

/* The store id of key, number num: names[key] when made already, else made and kept there
   (names is a list as long as numbers, or None to keep none). A new reference, or NULL with
   an exception */
static PyObject *store_id (PyObject *names, Py_ssize_t key, long long num)
{
  int kept = names != Py_None && key < PyList_GET_SIZE (names);
  PyObject *s = kept ? PyList_GET_ITEM (names, key) : NULL;
  if (s != NULL && PyUnicode_CheckExact (s))
    return Py_NewRef (s);
  if ((s = tagged ('m', num)) != NULL && kept)
    PyList_SetItem (names, key, Py_NewRef (s)); /* in range: it cannot fail */
  return s;
}

/* The same exact str: a key id of the run before (both ASCII, most often other keys) */
static int same_str (PyObject *a, PyObject *b)
{
  Py_ssize_t n = PyUnicode_GET_LENGTH (a);
  return a == b || (n == PyUnicode_GET_LENGTH (b) && PyUnicode_KIND (a) == PyUnicode_KIND (b)
                    && !memcmp (PyUnicode_DATA (a), PyUnicode_DATA (b),
                                (size_t) (n * PyUnicode_KIND (a))));
}

/* A run of one message's findings: found[start:end], its key and store number */
typedef struct
{
  long long num;
  Py_ssize_t key, start, end;
} Run;

/* by number, then where the run starts: the reference's stable sort */
static int run_order (const void *a, const void *b)
{
  const Run *x = a, *y = b;
  if (x->num != y->num)
    return x->num < y->num ? -1 : 1;
  return x->start < y->start ? -1 : x->start > y->start;
}

/* A needle met, its name and class (all held) */
typedef struct
{
  PyObject *needle, *name, *cls;
} Needle;

/* The needles met, by their address: a run's findings are of several needles in turn, and
   their two attribute lookups cost ~300 instructions a finding when only the last was
   kept. Looked for in PROBES slots from the address's own, where a new one takes the first
   empty one (or the address's own, whose needle is then looked up again when met): with
   one slot each, the benchmark's 50 needles among 64 slots took each other's 2,616 times.
   The slot from the address's bits multiplied by 2^64 / phi (Fibonacci hashing): objects
   of one size are as far apart as their size, so the address's low bits are the same for
   all */
#define NEEDLES 128
#define PROBES 8
#define NEEDLE_SLOT(p) ((size_t) (((uint64_t) (uintptr_t) (p) * 0x9e3779b97f4a7c15u) >> 57))

static PyObject *s_name, *s_cls;

/* The slot of needle, its name and class looked up where it has none: NULL for a needle
   without them (the reference says why), the error cleared */
static Needle *needle_slot (Needle *needles, PyObject *needle)
{
  size_t home = NEEDLE_SLOT (needle);
  Needle *empty = NULL;
  for (size_t k = 0; k < PROBES; k++)
  {
    Needle *at = &needles[(home + k) % NEEDLES];
    if (at->needle == needle)
      return at;
    if (at->needle == NULL && empty == NULL)
      empty = at;
  }
  PyObject *name = PyObject_GetAttr (needle, s_name);
  PyObject *cls = name == NULL ? NULL : PyObject_GetAttr (needle, s_cls);
  if (cls == NULL)
  {
    Py_XDECREF (name);
    PyErr_Clear ();
    return NULL;
  }
  Needle *at = empty != NULL ? empty : &needles[home];
  Py_XSETREF (at->needle, Py_NewRef (needle));
  Py_XSETREF (at->name, name);
  Py_XSETREF (at->cls, cls);
  return at;
}

/* Text given to write at a time (numbered_in_order's): the buffer it is made in is used
   again, where findings.json's 40 MB on the 200 MB bench was all fresh memory */
#define LINES_CHUNK ((size_t) 1 << 20)

/* numbered_in_order(found, numbers, Finding, names[, line[, write]]): list[Finding] | None,
   or with line (list[Finding], bytes) | None: the bytes findings_json(findings, Finding,
   line) makes of them (findinglines.c), each Finding's line written as it is made, while it
   and what it holds are in the cache: findings.json was a second walk over them all (on the
   200 MB bench, 133,000 Findings and their excerpts, cold by then). With write, the text is
   given to it a megabyte at a time as it is made (lines_flush: a memoryview, released after
   the call), and the bytes returned are the rest; where None is returned then, write may
   have had some of it */
PyObject *numbered_in_order (PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
  if (nargs < 4 || nargs > 6 || !PyType_Check (args[2]))
  {
    PyErr_SetString (PyExc_TypeError, "numbered_in_order(found, numbers, Finding, names"
                                      "[, line[, write]])");
    return NULL;
  }
  PyObject *numbers = args[1], *names = args[3], *write = nargs == 6 ? args[5] : NULL;
  PyTypeObject *finding = (PyTypeObject *) args[2];
  if (!PyList_CheckExact (args[0]) || !PyList_CheckExact (numbers)
      || (names != Py_None && !PyList_CheckExact (names)))
    Py_RETURN_NONE;
  if (s_name == NULL && ((s_name = PyUnicode_InternFromString ("name")) == NULL
                         || (s_cls = PyUnicode_InternFromString ("cls")) == NULL))
    return NULL;
  Py_ssize_t off[FN];
  for (int i = 0; i < FN; i++)
    if (slot_offset (finding, FINDING[i], &off[i]) < 0)
      return NULL;
  /* a tuple of the findings: a needle's attributes, Python, could change a list */
  PyObject *found = PyList_AsTuple (args[0]);
  if (found == NULL)
    return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE (found), nruns = 0;
  Run *runs = PyMem_Malloc (sizeof (Run) * (size_t) (n ? n : 1));
  Needle *needles = PyMem_Calloc (NEEDLES, sizeof (Needle));
  PyObject *out = NULL, *mid = NULL, *prev = NULL;
  Lines *lines = NULL;
  if (runs == NULL || needles == NULL)
  {
    PyErr_NoMemory ();
    goto done;
  }
  /* the runs, while checking what each finding is */
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *f = PyTuple_GET_ITEM (found, i);
    if (!PyTuple_CheckExact (f) || PyTuple_GET_SIZE (f) != 8)
      goto other;
    PyObject *key = PyTuple_GET_ITEM (f, 1);
    if (prev != NULL && PyUnicode_CheckExact (key) && same_str (key, prev))
    {
      runs[nruns - 1].end = i + 1;
      continue;
    }
    Py_ssize_t k;
    long long num;
    if (!key_of (key, PyList_GET_SIZE (numbers), &k) || !number_at (numbers, k, &num))
      goto other;
    runs[nruns++] = (Run) { num, k, i, i + 1 };
    prev = key;
  }
  /* the detector's runs come in the store's order on the benchmark: no sort then */
  Py_ssize_t r = 1;
  while (r < nruns && runs[r - 1].num <= runs[r].num)
    r++;
  if (r < nruns)
    qsort (runs, (size_t) nruns, sizeof (Run), run_order);
  if ((out = PyList_New (n)) == NULL
      || (nargs >= 5 && (lines = lines_new (finding, args[4])) == NULL))
    goto fail;
  Py_ssize_t at = 0;
  for (Py_ssize_t r = 0; r < nruns; r++)
  {
    /* names may be shorter than numbers: its id is then made for this call alone */
    Py_XSETREF (mid, store_id (names, runs[r].key, runs[r].num));
    if (mid == NULL)
      goto fail;
    for (Py_ssize_t i = runs[r].start; i < runs[r].end; i++)
    {
      PyObject *const *v = &PyTuple_GET_ITEM (PyTuple_GET_ITEM (found, i), 0);
      Needle *needle = needle_slot (needles, v[0]);
      if (needle == NULL)
        goto other;
      PyObject *id = tagged ('f', at + 1);
      PyObject *o = id == NULL ? NULL : finding->tp_alloc (finding, 0);
      if (o == NULL)
      {
        Py_XDECREF (id);
        goto fail;
      }
      PyObject *value[FN] = { id, needle->name, needle->cls, v[4], v[5], mid, v[2], v[3],
                              v[6], v[7] };
      for (int k = 0; k < FN; k++)
        *(PyObject **) ((char *) o + off[k]) = k == F_ID ? value[k] : Py_NewRef (value[k]);
      PyList_SET_ITEM (out, at++, o);
      /* a line() call may run Python: found is a tuple, out is this call's alone. Where it
         raises, the reference's numbering runs, then its findings_json: the error it
         raises is the reference's (a needle further on might have raised first there) */
      if (lines != NULL && lines_put (lines, o) < 0)
      {
        if (!PyErr_ExceptionMatches (PyExc_Exception))
          goto fail;
        PyErr_Clear ();
        goto other;
      }
      if (write != NULL && lines_held (lines) >= LINES_CHUNK && lines_flush (lines, write) < 0)
        goto fail;
    }
  }
  if (lines != NULL)
  {
    PyObject *text = lines_done (lines);
    lines = NULL;
    Py_SETREF (out, text == NULL ? NULL : PyTuple_Pack (2, out, text));
    Py_XDECREF (text);
  }
  goto done;
fail:
  Py_CLEAR (out);
  goto done;
other:
  Py_CLEAR (out);
  out = Py_NewRef (Py_None);
done:
  lines_free (lines);
  PyMem_Free (runs);
  Py_DECREF (found);
  Py_XDECREF (mid);
  for (int k = 0; needles != NULL && k < NEEDLES; k++)
  {
    Py_XDECREF (needles[k].needle);
    Py_XDECREF (needles[k].name);
    Py_XDECREF (needles[k].cls);
  }
  PyMem_Free (needles);
  return out;
}

/* renumbered_all(lists, numbers, names): for each list of key ids, their store ids in the
   store's order (the reference sorts each list's numbers), or None. One walk of the store's
   numbers in order, taking each key's id to its list, where the sort of a host's ids took
   ~95 instructions an id: numbers read once into key_at (the key of each number: a
   permutation fills it, and anything else is the reference's), each list's keys marked
   with its index in group (a key in two lists, or twice in one, is the reference's). The
   lists are read before any object is made: what runs then (a collection) cannot change
   what was read. */
PyObject *renumbered_all (PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
  if (nargs != 3)
  {
    PyErr_SetString (PyExc_TypeError, "renumbered_all(lists, numbers, names)");
    return NULL;
  }
  PyObject *lists = args[0], *numbers = args[1], *names = args[2];
  if (!PyList_CheckExact (lists) || !PyList_CheckExact (numbers)
      || (names != Py_None && !PyList_CheckExact (names)))
    Py_RETURN_NONE;
  Py_ssize_t n = PyList_GET_SIZE (numbers), nlists = PyList_GET_SIZE (lists);
  Py_ssize_t *key_at = PyMem_Malloc (sizeof (Py_ssize_t) * (size_t) (n ? n : 1));
  Py_ssize_t *group = PyMem_Malloc (sizeof (Py_ssize_t) * (size_t) (n ? n : 1));
  Py_ssize_t *fill = PyMem_Calloc ((size_t) (nlists ? nlists : 1), sizeof (Py_ssize_t));
  PyObject *out = NULL;
  if (key_at == NULL || group == NULL || fill == NULL)
  {
    PyErr_NoMemory ();
    goto done;
  }
  for (Py_ssize_t k = 0; k < n; k++)
    key_at[k] = group[k] = -1;
  for (Py_ssize_t k = 0; k < n; k++)
  {
    long long num;
    if (!number_at (numbers, k, &num) || num < 0 || num >= n || key_at[num] >= 0)
      goto other;
    key_at[num] = k;
  }
  for (Py_ssize_t j = 0; j < nlists; j++)
  {
    PyObject *ids = PyList_GET_ITEM (lists, j);
    if (!PyList_CheckExact (ids))
      goto other;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE (ids); i++)
    {
      Py_ssize_t key;
      if (!key_of (PyList_GET_ITEM (ids, i), n, &key) || group[key] >= 0)
        goto other;
      group[key] = j;
    }
    fill[j] = PyList_GET_SIZE (ids); /* how many ids each list gets */
  }
  if ((out = PyList_New (nlists)) == NULL)
    goto done;
  for (Py_ssize_t j = 0; j < nlists; j++)
  {
    PyObject *ids = PyList_New (fill[j]);
    if (ids == NULL)
      goto fail;
    PyList_SET_ITEM (out, j, ids);
    fill[j] = 0; /* now how many it has */
  }
  for (Py_ssize_t num = 0; num < n; num++)
  {
    Py_ssize_t key = key_at[num], j = group[key];
    if (j < 0)
      continue;
    PyObject *id = store_id (names, key, num);
    if (id == NULL)
      goto fail;
    PyList_SET_ITEM (PyList_GET_ITEM (out, j), fill[j]++, id);
  }
  goto done;
fail:
  Py_CLEAR (out);
  goto done;
other:
  out = Py_NewRef (Py_None);
done:
  PyMem_Free (key_at);
  PyMem_Free (group);
  PyMem_Free (fill);
  return out;
}

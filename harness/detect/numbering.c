/* Findings numbered in the store's order, for harness analyze (analysis.py's _numbered):
 * ``numbered(_store_order(found, numbers))`` (findings.py, analysis.py, the reference) and
 * the classifier's ids renumbered, ``[f"m{n}" for n in sorted(numbers[int(i[1:])] for i
 * in ids)]``. In Python ~21,000 instructions a finding (the runs, a render, a Finding's
 * ten slots set through their descriptors) and ~3,700 an id.
 *
 * Each returns None, having made nothing that outlives it, for what it does not take, and
 * the caller runs the reference: found as a list of 8-tuples whose message ids are "k"
 * then ASCII digits; numbers a list of ints that fit a long long; a needle's name and class
 * read without an error. An excerpt is made here of a clip of three bytes and two bools:
 * straight from the bytes where its three parts are printable ASCII (all but ~3% on the
 * benchmark), else decoded and escaped as render does (render_any); any other clip is
 * render(clip)'s, the reference. A Finding is made as harness.slots.maker makes it:
 * tp_alloc, then its slots set in field order.
 * tests/detect/test_numbering.py compares both with the reference. */

#include "numbering.h"
#include "../slotoffset.h"
#include "findingfields.h"
#include "words.h"

#include <stdint.h>
#include <structmember.h>

/* numbers[int(mid[1:])] for a key id "k<digits>" and a list of ints: 1 with *num, else 0 */
static int number_of (PyObject *mid, PyObject *numbers, long long *num)
{
  if (!PyUnicode_CheckExact (mid) || !PyUnicode_IS_ASCII (mid))
    return 0;
  Py_ssize_t n = PyUnicode_GET_LENGTH (mid);
  const char *s = PyUnicode_DATA (mid);
  if (n < 2 || n > 19 || s[0] != 'k')
    return 0;
  Py_ssize_t at = 0;
  for (Py_ssize_t i = 1; i < n; i++)
  {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    at = at * 10 + (s[i] - '0');
  }
  if (at >= PyList_GET_SIZE (numbers))
    return 0;
  PyObject *v = PyList_GET_ITEM (numbers, at);
  if (!PyLong_CheckExact (v))
    return 0;
  int overflow;
  *num = PyLong_AsLongLongAndOverflow (v, &overflow);
  return !overflow; /* an int cannot fail otherwise */
}

/* prefix then the decimal num, a new str */
static PyObject *tagged (char prefix, long long num)
{
  char text[24], *p = text + sizeof text;
  unsigned long long u = num < 0 ? 0 - (unsigned long long) num : (unsigned long long) num;
  do
    *--p = (char) ('0' + u % 10);
  while (u /= 10);
  if (num < 0)
    *--p = '-';
  *--p = prefix;
  Py_ssize_t n = text + sizeof text - p;
  PyObject *s = PyUnicode_New (n, 127);
  if (s != NULL)
    memcpy (PyUnicode_DATA (s), p, (size_t) n);
  return s;
}

/* n bytes, all printable ASCII (' ' to '~': what str.isprintable says yes to among them) */
static int printable_ascii (const char *s, Py_ssize_t n)
{
  Py_ssize_t i = 0;
  for (; i + 8 <= n; i += 8)
  {
    uint64_t w = load8 ((const unsigned char *) s + i);
    if ((w & HIGHS) | control_bytes (w) | bytes_equal (w, 0x7f))
      return 0;
  }
  for (; i < n; i++)
    if (s[i] < 0x20 || s[i] > 0x7e)
      return 0;
  return 1;
}

/* render(clip) of a clip of the types render_clip takes, for any bytes: each part
   decoded as bytes.decode("utf-8", "replace") does, then, where a character of the three is
   not printable, each character that is not as \\xNN below U+0100 (_escaped: a printable
   part is itself). A new str, or NULL with an exception */
static PyObject *render_any (PyObject *const *c)
{
  PyObject *part[3] = { NULL, NULL, NULL }, *out = NULL;
  Py_UCS4 *buf = NULL;
  Py_ssize_t n = 2;
  for (int i = 0; i < 3; i++)
  {
    part[i] = PyUnicode_DecodeUTF8 (PyBytes_AS_STRING (c[i]), PyBytes_GET_SIZE (c[i]),
                                    "replace");
    if (part[i] == NULL)
      goto done;
    n += 4 * PyUnicode_GET_LENGTH (part[i]) + 2;
  }
  if ((buf = PyMem_Malloc (sizeof (Py_UCS4) * (size_t) n)) == NULL)
  {
    PyErr_NoMemory ();
    goto done;
  }
  Py_UCS4 *p = buf;
  if (c[3] == Py_True)
    *p++ = 0x2026;
  for (int i = 0; i < 3; i++)
  {
    int kind = PyUnicode_KIND (part[i]);
    const void *data = PyUnicode_DATA (part[i]);
    for (Py_ssize_t j = 0, len = PyUnicode_GET_LENGTH (part[i]); j < len; j++)
    {
      Py_UCS4 ch = PyUnicode_READ (kind, data, j);
      if (ch < 256 && !Py_UNICODE_ISPRINTABLE (ch))
        *p++ = '\\', *p++ = 'x', *p++ = (Py_UCS4) "0123456789abcdef"[ch >> 4],
        *p++ = (Py_UCS4) "0123456789abcdef"[ch & 15];
      else
        *p++ = ch;
    }
    if (i < 2)
      *p++ = i ? ']' : '[', *p++ = i ? ']' : '[';
  }
  if (c[4] == Py_True)
    *p++ = 0x2026;
  out = PyUnicode_FromKindAndData (PyUnicode_4BYTE_KIND, buf, p - buf);
done:
  PyMem_Free (buf);
  for (int i = 0; i < 3; i++)
    Py_XDECREF (part[i]);
  return out;
}

/* render(clip) (findings.py) of a 5-tuple of three bytes and two bools: a new str, made
   here where the three parts are printable ASCII (most), else by render_any; NULL with an
   exception, or without one for a clip of other types */
static PyObject *render_clip (PyObject *clip)
{
  if (!PyTuple_CheckExact (clip) || PyTuple_GET_SIZE (clip) != 5)
    return NULL;
  PyObject *const *c = &PyTuple_GET_ITEM (clip, 0);
  if (!PyBytes_CheckExact (c[0]) || !PyBytes_CheckExact (c[1]) || !PyBytes_CheckExact (c[2])
      || !PyBool_Check (c[3]) || !PyBool_Check (c[4]))
    return NULL;
  const char *part[3];
  Py_ssize_t len[3], n = 4; /* "[[" and "]]" */
  for (int i = 0; i < 3; i++)
  {
    part[i] = PyBytes_AS_STRING (c[i]), len[i] = PyBytes_GET_SIZE (c[i]);
    if (!printable_ascii (part[i], len[i]))
      return render_any (c);
    n += len[i];
  }
  int before = c[3] == Py_True, after = c[4] == Py_True;
  n += before + after;
  static const char *const opens = "[[", *const closes = "]]";
  PyObject *s = PyUnicode_New (n, before || after ? 0x2026 : 127);
  if (s == NULL)
    return NULL;
  if (!before && !after)
  {
    char *p = PyUnicode_DATA (s);
    memcpy (p, part[0], (size_t) len[0]), p += len[0];
    memcpy (p, opens, 2), p += 2;
    memcpy (p, part[1], (size_t) len[1]), p += len[1];
    memcpy (p, closes, 2), p += 2;
    memcpy (p, part[2], (size_t) len[2]);
    return s;
  }
  Py_UCS2 *p = PyUnicode_DATA (s);
  if (before)
    *p++ = 0x2026;
  for (int i = 0; i < 3; i++)
  {
    for (Py_ssize_t j = 0; j < len[i]; j++)
      *p++ = (unsigned char) part[i][j];
    if (i < 2)
      *p++ = (Py_UCS2) (i ? ']' : '['), *p++ = (Py_UCS2) (i ? ']' : '[');
  }
  if (after)
    *p++ = 0x2026;
  return s;
}

/* A run of one message's findings: found[start:end], its store number */
typedef struct
{
  long long num;
  Py_ssize_t start, end;
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
   kept. A needle whose slot another takes is looked up again. The slot from the address's
   bits multiplied by 2^64 / phi (Fibonacci hashing): objects of one size are as far apart
   as their size, so the address's low bits are the same for all */
#define NEEDLES 64
#define NEEDLE_SLOT(p) ((size_t) (((uint64_t) (uintptr_t) (p) * 0x9e3779b97f4a7c15u) >> 58))

static PyObject *s_name, *s_cls;

/* numbered_in_order(found, numbers, Finding, render): list[Finding] | None */
PyObject *numbered_in_order (PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
  if (nargs != 4 || !PyType_Check (args[2]))
  {
    PyErr_SetString (PyExc_TypeError, "numbered_in_order(found, numbers, Finding, render)");
    return NULL;
  }
  PyObject *numbers = args[1], *render = args[3];
  PyTypeObject *finding = (PyTypeObject *) args[2];
  if (!PyList_CheckExact (args[0]) || !PyList_CheckExact (numbers))
    Py_RETURN_NONE;
  if (s_name == NULL && ((s_name = PyUnicode_InternFromString ("name")) == NULL
                         || (s_cls = PyUnicode_InternFromString ("cls")) == NULL))
    return NULL;
  Py_ssize_t off[FN];
  for (int i = 0; i < FN; i++)
    if (slot_offset (finding, FINDING[i], &off[i]) < 0)
      return NULL;
  /* a tuple of the findings: render, a Python function, could change a list */
  PyObject *found = PyList_AsTuple (args[0]);
  if (found == NULL)
    return NULL;
  Py_ssize_t n = PyTuple_GET_SIZE (found), nruns = 0;
  Run *runs = PyMem_Malloc (sizeof (Run) * (size_t) (n ? n : 1));
  if (runs == NULL)
  {
    Py_DECREF (found);
    return PyErr_NoMemory ();
  }
  PyObject *out = NULL, *mid = NULL, *prev = NULL;
  Needle needles[NEEDLES] = { { NULL, NULL, NULL } };
  /* the runs, while checking what each finding is */
  for (Py_ssize_t i = 0; i < n; i++)
  {
    PyObject *f = PyTuple_GET_ITEM (found, i);
    if (!PyTuple_CheckExact (f) || PyTuple_GET_SIZE (f) != 8)
      goto other;
    PyObject *key = PyTuple_GET_ITEM (f, 1);
    /* exact strs both: == has no side effects */
    int same = prev != NULL && PyUnicode_CheckExact (key)
      && (key == prev || PyUnicode_Compare (key, prev) == 0);
    if (same)
    {
      runs[nruns - 1].end = i + 1;
      continue;
    }
    long long num;
    if (!number_of (key, numbers, &num))
      goto other;
    runs[nruns++] = (Run) { num, i, i + 1 };
    prev = key;
  }
  /* the detector's runs come in the store's order on the benchmark: no sort then */
  Py_ssize_t r = 1;
  while (r < nruns && runs[r - 1].num <= runs[r].num)
    r++;
  if (r < nruns)
    qsort (runs, (size_t) nruns, sizeof (Run), run_order);
  if ((out = PyList_New (n)) == NULL)
    goto done;
  Py_ssize_t at = 0;
  for (Py_ssize_t r = 0; r < nruns; r++)
  {
    Py_XSETREF (mid, tagged ('m', runs[r].num));
    if (mid == NULL)
      goto fail;
    for (Py_ssize_t i = runs[r].start; i < runs[r].end; i++)
    {
      PyObject *const *v = &PyTuple_GET_ITEM (PyTuple_GET_ITEM (found, i), 0);
      Needle *last = &needles[NEEDLE_SLOT (v[0])];
      if (v[0] != last->needle)
      {
        PyObject *name = PyObject_GetAttr (v[0], s_name);
        PyObject *cls = name == NULL ? NULL : PyObject_GetAttr (v[0], s_cls);
        if (cls == NULL)
        {
          Py_XDECREF (name);
          PyErr_Clear (); /* the reference says why */
          goto other;
        }
        Py_XSETREF (last->needle, Py_NewRef (v[0]));
        Py_XSETREF (last->name, name);
        Py_XSETREF (last->cls, cls);
      }
      PyObject *excerpt = render_clip (v[3]);
      if (excerpt == NULL && !PyErr_Occurred ())
        excerpt = PyObject_CallOneArg (render, v[3]);
      PyObject *id = excerpt == NULL ? NULL : tagged ('f', at + 1);
      PyObject *o = id == NULL ? NULL : finding->tp_alloc (finding, 0);
      if (o == NULL)
      {
        Py_XDECREF (excerpt);
        Py_XDECREF (id);
        goto fail;
      }
      PyObject *value[FN] = { id, last->name, last->cls, v[4], v[5], mid, v[2], excerpt, v[6],
                              v[7] };
      for (int k = 0; k < FN; k++)
        *(PyObject **) ((char *) o + off[k]) =
          k == F_ID || k == F_EXCERPT ? value[k] : Py_NewRef (value[k]);
      PyList_SET_ITEM (out, at++, o);
    }
  }
  goto done;
fail:
  Py_CLEAR (out);
  goto done;
other:
  Py_CLEAR (out);
  out = Py_NewRef (Py_None);
done:
  PyMem_Free (runs);
  Py_DECREF (found);
  Py_XDECREF (mid);
  for (int k = 0; k < NEEDLES; k++)
  {
    Py_XDECREF (needles[k].needle);
    Py_XDECREF (needles[k].name);
    Py_XDECREF (needles[k].cls);
  }
  return out;
}

/* The end of the ascending run of a[0:n] that starts at a[at] */
static Py_ssize_t run_end (const long long *a, Py_ssize_t at, Py_ssize_t n)
{
  while (++at < n && a[at - 1] <= a[at])
    ;
  return at;
}

/* a[0:n] sorted ascending, by merging its ascending runs two by two until one is left: a
   host's ids come nearly in the store's order (308 descents among the 20 MB run's 24,640),
   where qsort's merge sort compared each number ~11 times through a pointer. 0, or -1
   with MemoryError */
static int sort_numbers (long long *a, Py_ssize_t n)
{
  if (run_end (a, 0, n) >= n)
    return 0;
  long long *tmp = PyMem_Malloc (sizeof *tmp * (size_t) n);
  if (tmp == NULL)
  {
    PyErr_NoMemory ();
    return -1;
  }
  long long *src = a, *dst = tmp;
  for (Py_ssize_t runs = 2; runs > 1;) /* the runs a pass leaves */
  {
    runs = 0;
    for (Py_ssize_t lo = 0; lo < n; runs++)
    {
      Py_ssize_t mid = run_end (src, lo, n), hi = mid < n ? run_end (src, mid, n) : n;
      Py_ssize_t x = lo, y = mid, k = lo;
      while (x < mid && y < hi)
        dst[k++] = src[y] < src[x] ? src[y++] : src[x++];
      memcpy (dst + k, src + x, sizeof *src * (size_t) (mid - x)), k += mid - x;
      memcpy (dst + k, src + y, sizeof *src * (size_t) (hi - y));
      lo = hi;
    }
    long long *t = src;
    src = dst, dst = t;
  }
  if (src != a)
    memcpy (a, src, sizeof *a * (size_t) n);
  PyMem_Free (tmp);
  return 0;
}

/* renumbered(ids, numbers): list[str] | None */
PyObject *renumbered (PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
  if (nargs != 2)
  {
    PyErr_SetString (PyExc_TypeError, "renumbered(ids, numbers)");
    return NULL;
  }
  PyObject *ids = args[0], *numbers = args[1];
  if (!PyList_CheckExact (ids) || !PyList_CheckExact (numbers))
    Py_RETURN_NONE;
  Py_ssize_t n = PyList_GET_SIZE (ids);
  long long *nums = PyMem_Malloc (sizeof (long long) * (size_t) (n ? n : 1));
  if (nums == NULL)
    return PyErr_NoMemory ();
  PyObject *out = NULL;
  for (Py_ssize_t i = 0; i < n; i++)
    if (!number_of (PyList_GET_ITEM (ids, i), numbers, &nums[i]))
    {
      PyMem_Free (nums);
      Py_RETURN_NONE;
    }
  if (sort_numbers (nums, n) == 0 && (out = PyList_New (n)) != NULL)
    for (Py_ssize_t i = 0; i < n; i++)
    {
      PyObject *s = tagged ('m', nums[i]);
      if (s == NULL)
      {
        Py_CLEAR (out);
        break;
      }
      PyList_SET_ITEM (out, i, s);
    }
  PyMem_Free (nums);
  return out;
}

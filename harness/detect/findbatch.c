/* findings.find_unnumbered's loop over a batch of messages in C, where the detector is built:
 * it ran in Python for every message (245,000 on the 200 MB benchmark), reading a dozen
 * attributes, making the chain's head and the message's tuple for find(), for responses too
 * (which it skips: what the app received is not what it sent). Here each message's fields are
 * read at their slots' offsets (slotoffset.h) and, for each, in the order the Python loop
 * does it:
 *
 *   its id added to ids (an Ids, ids.c: find_unnumbered asks at the end whether an id came
 *     twice); while seen is None (no id has), one that came before is left to the Python
 *     loop, which makes seen from found before it runs the message;
 *   its notes written to notes, each after its id, and their span to spans (when notes is
 *     not None);
 *   skipped when it is not "out", or a Java HTTP stack record (links, and a true
 *     meta["stack"]) also seen on the wire;
 *   its roots made (roots.c, with the request's head made here and any other message's by
 *     rootpairs.root_label, called) and its findings found (found.c).
 *
 * find_batch(batch, start, how, into) -> None | (index, roots | None) where
 *   batch: a list or tuple of messages, from batch[start] on;
 *   how: (Message, MessageKind.REQUEST, CONTROL_HOSTS, root_label, hooks, plan, excerpt),
 *     hooks, plan and excerpt as find() takes them;
 *   into: (found, seen | None, keep, ids (an Ids), notes | None, spans | None).
 * None when the batch is done. (index, None): batch[index] is left to the Python loop
 *   whole but for its id, added (a message of another class or with a field of another type
 *   than Message declares, whatever Python does with it, error included, Python does; a URL
 *   roots.c leaves to Python). (index, roots): its notes are written and its roots made, and
 *   find() handed back (nothing appended): the Python walk runs on roots. The Python loop
 *   carries on at index + 1. tests/detect/test_findbatch.py compares the two on generated
 *   batches.
 */

#include "found.h"
#include "ids.h"
#include "roots.h"
#include "../slotoffset.h"

/* The Message fields the loop reads (Message has more) */
#define MESSAGE_FIELDS(X)                                                                    \
  X (ID, id) X (NOTES, notes) X (DIRECTION, direction) X (LINKS, links) X (META, meta)       \
  X (KIND, kind) X (METHOD, method) X (HOST, host) X (IP, ip) X (URL, url)                   \
  X (HEADERS, headers) X (BODY, body) X (PHASE, phase) X (T, t)

#define M_INDEX(index, name) M_##index,
#define NAME(index, name) #name,
enum { MESSAGE_FIELDS (M_INDEX) MN };
static const char *const FIELD[MN] = { MESSAGE_FIELDS (NAME) };
#undef M_INDEX
#undef NAME

static PyTypeObject *message_type; /* the class whose offsets these are (a reference) */
static Py_ssize_t offset[MN];
static PyObject *s_id, *s_out, *s_stack, *s_http, *s_space, *s_unknown, *s_empty;

/* The offsets of type's fields and the loop's strings, made once. 0 with an exception. */
static int ready (PyTypeObject *type)
{
  if (type == message_type)
    return 1;
  Py_ssize_t off[MN];
  for (int i = 0; i < MN; i++)
    if (slot_offset (type, FIELD[i], &off[i]) < 0)
      return 0;
  if (s_id == NULL)
  {
    PyObject **s[] = { &s_id, &s_out, &s_stack, &s_http, &s_space, &s_unknown, &s_empty };
    const char *text[] = { "id", "out", "stack", "http:", " ", "?", "" };
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
      if ((*s[i] = PyUnicode_InternFromString (text[i])) == NULL)
      {
        for (size_t j = 0; j < i; j++)
          Py_CLEAR (*s[j]);
        return 0;
      }
  }
  memcpy (offset, off, sizeof off);
  Py_XSETREF (message_type, (PyTypeObject *) Py_NewRef (type));
  return 1;
}

/* None or an exact str, as Message declares most fields */
static int str_or_none (PyObject *v)
{
  return v == Py_None || PyUnicode_CheckExact (v);
}

/* v or, for None or "", w: Python's `v or w` on a str or None */
static PyObject *or (PyObject *v, PyObject *w)
{
  return v != Py_None && PyUnicode_GET_LENGTH (v) > 0 ? v : w;
}

typedef struct {
  PyTypeObject *type;
  PyObject *request, *control_hosts, *root_label, *plan;
  Py_ssize_t excerpt;
  PyObject *found, *seen, *keep, *notes, *spans;
  Ids *ids;
  Ctx cx;
  Roots roots; /* the message's, their room kept for the next */
} Loop;

/* The message's notes (a tuple of str, id a str), each after its id, and their span. */
static int note (Loop *lp, PyObject *id, PyObject *lines)
{
  Py_ssize_t first = PyList_GET_SIZE (lp->notes);
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE (lines); i++)
  {
    PyObject *line = PyUnicode_FromFormat ("%U: %U", id, PyTuple_GET_ITEM (lines, i));
    int ok = line != NULL && PyList_Append (lp->notes, line) == 0;
    Py_XDECREF (line);
    if (!ok)
      return 0;
  }
  if (lp->spans == Py_None)
    return 1;
  PyObject *span = Py_BuildValue ("(Onn)", id, first, PyList_GET_SIZE (lp->notes));
  int ok = span != NULL && PyList_Append (lp->spans, span) == 0;
  Py_XDECREF (span);
  return ok;
}

/* Whether the fields are of the types the loop reads (else Python runs the message). */
static int typed (const Loop *lp, PyObject *const *v)
{
  if (lp->notes != Py_None)
  {
    if (!PyTuple_CheckExact (v[M_NOTES]))
      return 0;
    Py_ssize_t n = PyTuple_GET_SIZE (v[M_NOTES]);
    if (n > 0 && !PyUnicode_CheckExact (v[M_ID]))
      return 0;
    for (Py_ssize_t i = 0; i < n; i++)
      if (!PyUnicode_CheckExact (PyTuple_GET_ITEM (v[M_NOTES], i)))
        return 0;
  }
  return PyUnicode_CheckExact (v[M_DIRECTION]) && PyTuple_CheckExact (v[M_LINKS])
      && PyDict_CheckExact (v[M_META]) && Py_IS_TYPE (v[M_KIND], Py_TYPE (lp->request))
      && str_or_none (v[M_URL]) && (v[M_KIND] != lp->request
          || (str_or_none (v[M_METHOD]) && str_or_none (v[M_HOST]) && str_or_none (v[M_IP])));
}

/* One message: 1 when done, 0 when left to Python (*back: None, or the roots to walk), -1
   with an exception set. */
static int visit (Loop *lp, PyObject *m, PyObject **back)
{
  *back = Py_None;
  PyObject *v[MN];
  int exact = Py_IS_TYPE (m, lp->type);
  for (int i = 0; exact && i < MN; i++)
    exact = (v[i] = *(PyObject **) ((char *) m + offset[i])) != NULL;
  PyObject *id = exact ? Py_NewRef (v[M_ID]) : PyObject_GetAttr (m, s_id);
  int added = id != NULL ? ids_add (lp->ids, id) : -1;
  Py_XDECREF (id);
  if (added < 0)
    return -1;
  /* an id that came before, while seen is None: the Python loop makes seen from found first */
  if (!exact || !typed (lp, v) || (lp->seen == Py_None && added == 0))
    return 0;
  int notes = lp->notes != Py_None && PyTuple_GET_SIZE (v[M_NOTES]) > 0;
  int skip = PyUnicode_Compare (v[M_DIRECTION], s_out) != 0;
  if (!skip && PyTuple_GET_SIZE (v[M_LINKS]) > 0)
  {
    PyObject *stack = PyDict_GetItemWithError (v[M_META], s_stack);
    if ((skip = stack != NULL ? PyObject_IsTrue (stack) : PyErr_Occurred () ? -1 : 0) < 0)
      return -1;
  }
  if (skip)
    return notes && !note (lp, v[M_ID], v[M_NOTES]) ? -1 : 1;
  int request = v[M_KIND] == lp->request;
  /* a request's head: http:{method or '?'} {host or ip or '?'} (its path after it) */
  PyObject *head[4] = { s_http, request ? or (v[M_METHOD], s_unknown) : NULL, s_space,
    request ? or (v[M_HOST], or (v[M_IP], s_unknown)) : NULL };
  PyObject *label = request ? NULL : PyObject_CallOneArg (lp->root_label, m);
  if (!request && (label == NULL || !PyUnicode_CheckExact (label)))
  {
    Py_XDECREF (label);
    return label == NULL ? -1 : 0;
  }
  PyObject *url = v[M_URL] == Py_None ? s_empty : v[M_URL];
  Roots *roots = &lp->roots;
  int made = request ? roots_make (roots, url, head, 4, 1, v[M_HEADERS], v[M_BODY])
      : roots_make (roots, url, &label, 1, 0, v[M_HEADERS], v[M_BODY]);
  Py_XDECREF (label);
  if (made <= 0)
    return made;
  int control = 0;
  if (request)
  {
    control = PySet_Contains (lp->control_hosts, v[M_HOST] == Py_None ? s_empty : v[M_HOST]);
    if (control < 0)
    {
      roots_clear (roots);
      return -1;
    }
  }
  Msg msg = { v[M_ID], v[M_HOST], v[M_PHASE], v[M_T], control };
  int r = notes && !note (lp, v[M_ID], v[M_NOTES]) ? ERROR
      : find_message (&lp->cx, NULL, roots, lp->plan, lp->excerpt, &msg, lp->found, lp->seen,
          lp->keep);
  if (r == FALLBACK_MSG && (*back = roots_list (roots)) == NULL)
    r = ERROR;
  roots_clear (roots);
  return r == OK ? 1 : r == FALLBACK_MSG ? 0 : -1;
}

PyObject *detect_find_batch (PyObject *self, PyObject *args)
{
  PyObject *batch, *how, *into, *hooks;
  Py_ssize_t start;
  Loop lp;
  (void) self;
  if (!PyArg_ParseTuple (args, "OnO!O!", &batch, &start, &PyTuple_Type, &how, &PyTuple_Type,
          &into)
      || !PyArg_ParseTuple (how, "O!OO!OO!O!n;how: (Message, MessageKind.REQUEST, "
          "CONTROL_HOSTS, root_label, hooks, plan, excerpt)", &PyType_Type, &lp.type,
          &lp.request, &PyFrozenSet_Type, &lp.control_hosts, &lp.root_label, &PyTuple_Type,
          &hooks, &PyTuple_Type, &lp.plan, &lp.excerpt)
      || !PyArg_ParseTuple (into, "O!OO!O!OO;into: (found, seen, keep, ids, notes, spans)",
          &PyList_Type, &lp.found, &lp.seen, &PyList_Type, &lp.keep, &IdsType, &lp.ids,
          &lp.notes, &lp.spans))
    return NULL;
  if ((lp.notes != Py_None && !PyList_Check (lp.notes))
      || (lp.spans != Py_None && !PyList_Check (lp.spans)))
  {
    PyErr_SetString (PyExc_TypeError, "notes and spans: lists or None");
    return NULL;
  }
  if (!ready (lp.type) || !find_ready (&lp.cx, hooks, lp.plan, lp.keep, lp.found, lp.seen))
    return NULL;
  PyObject *seq = PySequence_Fast (batch, "a batch is a sequence of messages");
  if (seq == NULL)
    return NULL;
  lp.roots = (Roots) { NULL, NULL, 0, 0 };
  PyObject *result = NULL;
  Py_ssize_t i = start < 0 ? 0 : start;
  for (; i < PySequence_Fast_GET_SIZE (seq); i++)
  {
    PyObject *m = Py_NewRef (PySequence_Fast_GET_ITEM (seq, i)), *back;
    int r = visit (&lp, m, &back);
    Py_DECREF (m);
    if (r < 0)
      goto done;
    if (r == 0)
    {
      result = Py_BuildValue ("(nN)", i, back == Py_None ? Py_NewRef (Py_None) : back);
      goto done;
    }
  }
  result = Py_NewRef (Py_None);
done:
  roots_free (&lp.roots);
  walk_free (&lp.cx);
  Py_DECREF (seq);
  return result;
}

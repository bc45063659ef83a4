/* put(drafts, peer_host, stamps), _store.c's Writer method: the builder's loop over a
 * connection's drafts (stamps.put_drafts is its reference) in C. Each draft is stamped with
 * its host and phase (draftstamp.h), added (writer_add) and, where the caller queues
 * messages, made its own Message in place (storemsg.h's become_message: one object a
 * message, not a Draft and a Message). */

#include "draftstamp.h"
#include "storemsg.h"
#include "storewriter.h"

/* put's message of the draft d it has just added: d itself made its Message where it can
 * be (it is the build's no longer), else message() or the row read back (read_back,
 * StoreWriter.message). */
static PyObject *put_message (Writer *w, PyObject *d, PyObject *read_back)
{
  if (!w->fast)
    return PyObject_CallNoArgs (read_back);
  PyObject *kind = message_kind (w);
  if (kind == NULL)
    return NULL;
  const long long *req_key = w->small ? &w->req_key : NULL;
  return w->in_place
    ? become_message (d, w->doff, w->message, w->moff, w->v, w->count, w->req, req_key, kind)
    : make_message (w->message, w->moff, w->v, w->count, w->req, req_key, kind);
}

/* `(held if m.meta.get("stack") else ready).append(m)`, a Message's meta read at its slot */
static int queue (Writer *w, PyObject *m, PyObject *ready, PyObject *held)
{
  static PyObject *stack; /* made once, kept */
  if (stack == NULL && (stack = PyUnicode_InternFromString ("stack")) == NULL)
    return -1;
  PyObject *meta = Py_IS_TYPE (m, w->message) ? *(PyObject **) ((char *) m + w->moff[M_META])
    : NULL, *got;
  meta = meta != NULL ? Py_NewRef (meta) : PyObject_GetAttrString (m, "meta");
  if (meta == NULL)
    return -1;
  if (PyDict_CheckExact (meta))
    got = Py_XNewRef (PyDict_GetItemWithError (meta, stack));
  else
    got = PyObject_CallMethod (meta, "get", "O", stack);
  Py_DECREF (meta);
  int hold = got != NULL ? PyObject_IsTrue (got) : PyErr_Occurred () ? -1 : 0;
  Py_XDECREF (got);
  return hold < 0 ? -1 : PyList_Append (hold ? held : ready, m);
}

/* put(drafts, peer_host, stamps): stamps.put_drafts (the reference) in C, the drafts
 * stamped, written and, unless stamps.ready is None, made Messages queued on stamps.ready
 * (or stamps.held) */
PyObject *writer_put (Writer *w, PyObject *args)
{
  PyObject *drafts, *peer_host, *stamps;
  if (!PyArg_ParseTuple (args, "O!OO:put", &PyList_Type, &drafts, &peer_host, &stamps))
    return NULL;
  PyObject *ready = PyObject_GetAttrString (stamps, "ready");
  PyObject *held = ready != NULL ? PyObject_GetAttrString (stamps, "held") : NULL;
  PyObject *read_back = held != NULL ? PyObject_GetAttrString (stamps, "message") : NULL;
  Stamper s;
  int open = read_back != NULL && stamper_open (&s, stamps, peer_host) == 0, ok = open;
  int messages = ok && ready != Py_None;
  if (messages && (!PyList_Check (ready) || !PyList_Check (held)))
  {
    PyErr_SetString (PyExc_TypeError, "put: stamps.ready and stamps.held are lists");
    ok = 0;
  }
  for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE (drafts); i++)
  {
    PyObject *d = Py_NewRef (PyList_GET_ITEM (drafts, i)), *key = NULL, *m = NULL;
    if (!Py_IS_TYPE (d, w->draft))
      PyErr_Format (PyExc_TypeError, "put() takes Drafts, not %s", Py_TYPE (d)->tp_name);
    else if (stamp (&s, d, w->doff) == 0)
      key = writer_add (w, d);
    ok = key != NULL;
    Py_XDECREF (key);
    if (ok && messages)
      ok = (m = put_message (w, d, read_back)) != NULL && queue (w, m, ready, held) == 0;
    Py_XDECREF (m);
    Py_DECREF (d);
  }
  if (open)
    ok = stamper_close (&s, ok ? stamps : NULL) == 0 && ok;
  Py_XDECREF (ready);
  Py_XDECREF (held);
  Py_XDECREF (read_back);
  return ok ? Py_NewRef (Py_None) : NULL;
}


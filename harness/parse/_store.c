/* The writer of analysis.sqlite through SQLite's C API, for store.StoreWriter.
 *
 * Writer(path, script, insert, facts, Draft, Message, values, kinds, dumps, firsts=None,
 * chunk=..., limit=256, limit_bytes=0) opens the temporary store on a connection of its own and runs script
 * (pragmas, schema, BEGIN). add(draft) writes a draft's message into a chunk (chunk, the
 * INSERT of one, limit messages at most, or limit_bytes of bodies: storerows.h) or a row of its own (insert), and
 * appends its first_seq to the list firsts. Its connection's
 * facts go in a row of their own, written with facts (storefacts.h), which the message's
 * row names by id. Its columns are
 * bound as Python's sqlite3 module binds them, the JSON columns written by storejson.c
 * where the value has a shape it encodes and by rowcodec.Dumps (dumps, dumps.seqs)
 * otherwise (json_column). message() is the Message the store will read back for that row,
 * made from the draft's own values where those are what decoding the stored text gives (or
 * None: the caller reads the row back with fetch); add_message() both, in one call.
 * put(drafts, peer_host, stamps) is the builder's loop over a connection's drafts
 * (stamps.put_drafts, its reference): each stamped (draftstamp.h), added, and made its own
 * Message in place (storemsg.h's become_message: one object a message, not two).
 * number() writes the numbering (storeorder.h); execute and fetch run the rest of the
 * build's SQL (links, meta, COMMIT). Each writes the rows still waiting first.
 *
 * StoreWriter kept executemany's rows in a queue and made each Message by decoding the JSON
 * it had just encoded: together ~0.4 s of the 20 MB benchmark's 1.9 s. The Python writer
 * is the reference (tests/parse/test_store_c.py compares the two on generated drafts).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

#include "storejson.h"
#include "storemsg.h"
#include "storeorder.h"
#include "storesql.h"
#include "storewriter.h"

static PyObject *no_args;


static void forget (Writer *w)
{
  ref_flow_clear (&w->flow[0]);
  ref_flow_clear (&w->flow[1]);
  facts_forget (&w->facts);
  for (int i = 0; i < DN; i++)
    Py_CLEAR (w->v[i]);
  Py_CLEAR (w->req);
  Py_CLEAR (w->kind_text);
  w->small = w->fast = 0;
}

static void writer_close (Writer *w)
{
  rows_close (&w->rows);
  facts_close (&w->facts);
  if (w->db != NULL)
  {
    sqlite3_close_v2 (w->db);
    w->db = NULL;
  }
}

static int writer_init (Writer *w, PyObject *args, PyObject *kw)
{
  PyObject *path, *draft, *message, *values, *kinds, *dumps, *firsts = NULL;
  const char *script, *insert, *facts, *chunk = NULL;
  int limit = 256;
  Py_ssize_t limit_bytes = 0;
  if (!PyArg_ParseTuple (args, "O&sssO!O!O!O!O|O!sin:Writer", PyUnicode_FSConverter, &path,
                         &script, &insert, &facts, &PyType_Type, &draft, &PyType_Type,
                         &message, &PyDict_Type, &values, &PyDict_Type, &kinds, &dumps, &PyList_Type,
                         &firsts, &chunk, &limit, &limit_bytes))
    return -1;
  int ok = w->db == NULL || (PyErr_SetString (PyExc_RuntimeError, "Writer opened twice"), 0);
  ok = ok && slot_offsets ((PyTypeObject *) draft, DRAFT, DN, w->doff, "draftfields.h") == 0
    && slot_offsets ((PyTypeObject *) message, MESSAGE, MN, w->moff, "storemsg.h") == 0;
  w->in_place = ok && same_layout ((PyTypeObject *) draft, w->doff, (PyTypeObject *) message,
                                   w->moff);
  PyObject *seqs = ok ? PyObject_GetAttrString (dumps, "seqs") : NULL;
  if (seqs == NULL)
  {
    Py_DECREF (path);
    return -1;
  }
  Py_XSETREF (w->draft, (PyTypeObject *) Py_NewRef (draft));
  Py_XSETREF (w->message, (PyTypeObject *) Py_NewRef (message));
  Py_XSETREF (w->values, Py_NewRef (values));
  Py_XSETREF (w->kinds, Py_NewRef (kinds));
  Py_XSETREF (w->dumps, Py_NewRef (dumps));
  Py_XSETREF (w->seqs, seqs);
  Py_XSETREF (w->firsts, Py_XNewRef (firsts));
  int rc = sqlite3_open_v2 (PyBytes_AS_STRING (path), &w->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                            NULL);
  Py_DECREF (path);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec (w->db, script, NULL, NULL, NULL);
  if (rc != SQLITE_OK || facts_prepare (&w->facts, w->db, facts) < 0
      || rows_prepare (&w->rows, w->db, insert,
                       chunk ? chunk : "INSERT INTO chunks(key, rows, bodies, ts) VALUES(?,?,?,?)",
                       limit, limit_bytes) < 0)
  {
    if (rc != SQLITE_OK)
      sql_error (w->db, rc);
    writer_close (w);
    return -1;
  }
  return 0;
}

/* A Draft's field (borrowed), or NULL with AttributeError for an unset one. */
static PyObject *field (Writer *w, PyObject *d, int i)
{
  PyObject *v = *(PyObject **) ((char *) d + w->doff[i]);
  if (v == NULL)
    PyErr_SetString (PyExc_AttributeError, DRAFT[i]);
  return v;
}

PyObject *writer_add (Writer *w, PyObject *d)
{
  if (w->db == NULL)
    return PyErr_Format (sql_ProgrammingError, "Cannot operate on a closed database.");
  if (!Py_IS_TYPE (d, w->draft))
    return PyErr_Format (PyExc_TypeError, "add() takes a Draft, not %s", Py_TYPE (d)->tp_name);
  w->fast = 0; /* message() reads the row back until this one is written */
  /* as StoreWriter.add: first_seq, then the key (the draft's request may be the draft
   * itself), then the rest */
  PyObject *first = field (w, d, D_FIRST_SEQ);
  if (first == NULL || (w->firsts != NULL && PyList_Append (w->firsts, first) < 0))
    return NULL;
  PyObject *key = PyLong_FromLongLong (++w->count);
  if (key == NULL)
    return NULL;
  PyObject **key_slot = (PyObject **) ((char *) d + w->doff[D_KEY]);
  Py_XSETREF (*key_slot, Py_NewRef (key));
  /* a value that is the last draft's own object (its connection's, None: all but one or
   * two a row on the 20 MB benchmark) keeps its reference: letting go of the last add's
   * and taking each anew was ~590 instructions a row, this ~330 */
  for (int i = 0; i < DN; i++)
  {
    PyObject *v = i != D_FIRST_SEQ ? field (w, d, i) : first;
    if (v == NULL)
      goto fail;
    if (w->v[i] != v)
      Py_XSETREF (w->v[i], Py_NewRef (v));
  }
  Py_XSETREF (w->req, request_key (w->draft, w->doff[D_KEY], w->message, w->moff[M_ID],
                                   w->v[D_REQUEST], &w->req_key, &w->small));
  if (w->req == NULL)
    goto fail;
  PyObject *kind_text = PyDict_GetItemWithError (w->values, w->v[D_KIND]);
  if (kind_text == NULL)
  {
    if (!PyErr_Occurred ())
      PyErr_SetObject (PyExc_KeyError, w->v[D_KIND]);
    goto fail;
  }
  if (w->kind_text != kind_text)
    Py_XSETREF (w->kind_text, Py_NewRef (kind_text));
  PyObject **v = w->v;
  /* whether StoreWriter.message would take the row as it is (else it reads it back) */
  int fast = scalars_read_back_as_given (v);
  PyObject *text[JN] = {0}, *facts = NULL, *ref = NULL, *body = NULL;
  PyObject *out = NULL;
  static const int jcols[JN] = {D_HEADERS, D_EVENTS, D_FRAMES, D_META, D_NOTES};
  for (int j = 0; j < JN; j++)
    if (json_column (rows_spare (&w->rows, j), j, v[jcols[j]],
                     j == J_EVENTS ? w->seqs : w->dumps, &text[j], &fast) < 0)
      goto done;
  /* a body has a length (the reader's with_body=False gives it), as StoreWriter.add asks */
  Py_ssize_t body_len = PyObject_Size (v[D_BODY]);
  if (body_len < 0)
    goto done;
  /* a body found in its flow, as sent and decoded or as it is: its length, and where it is
   * (StoreWriter.add) */
  const RefFlow *flow = !PyUnicode_CheckExact (v[D_DIRECTION]) ? NULL
    : !PyUnicode_CompareWithASCIIString (v[D_DIRECTION], "out") ? &w->flow[0]
    : !PyUnicode_CompareWithASCIIString (v[D_DIRECTION], "in") ? &w->flow[1] : NULL;
  ref = flow != NULL ? ref_find_coded (flow, v[D_EVENTS], v[D_BODY]) : Py_NewRef (Py_None);
  if (ref == Py_None && flow != NULL)
    Py_SETREF (ref, ref_find (flow, v[D_EVENTS], v[D_BODY]));
  if (ref == NULL)
    goto done;
  if (ref != Py_None && (body = PyLong_FromSsize_t (body_len)) == NULL)
    goto done;
  if ((facts = facts_of (&w->facts, &w->rows, v)) == NULL)
    goto done;
  /* the INSERT's columns, in its order */
  PyObject *col[] = {key, v[D_FIRST_SEQ], kind_text, v[D_T], v[D_DIRECTION], facts,
                     v[D_PHASE], v[D_HOST], v[D_METHOD], v[D_URL], v[D_STATUS],
                     text[J_HEADERS], body != NULL ? body : v[D_BODY], v[D_BODY_LEN_WIRE],
                     text[J_EVENTS], w->req, v[D_SDK], text[J_FRAMES], text[J_META],
                     text[J_NOTES], ref};
  _Static_assert (sizeof col / sizeof col[0] == NCOL, "the INSERT's parameters");
  /* a message message() makes of the draft goes in a chunk where its scalars allow: one
   * it reads back is read from its row */
  if (rows_write (&w->rows, col, w->count, fast) < 0)
    goto done;
  w->fast = fast;
  out = Py_NewRef (key);
done:
  for (int j = 0; j < JN; j++)
    Py_XDECREF (text[j]);
  Py_XDECREF (facts);
  Py_XDECREF (ref);
  Py_XDECREF (body);
  Py_DECREF (key);
  return out;
fail:
  Py_DECREF (key);
  return NULL;
}

static PyObject *writer_message (Writer *w, PyObject *unused)
{
  if (!w->fast)
    Py_RETURN_NONE;
  PyObject *kind = message_kind (w);
  return kind == NULL ? NULL : make_message (w->message, w->moff, w->v, w->count, w->req,
                                             w->small ? &w->req_key : NULL, kind);
}

static PyObject *writer_add_message (Writer *w, PyObject *d)
{
  PyObject *key = writer_add (w, d);
  if (key == NULL)
    return NULL;
  Py_DECREF (key);
  return writer_message (w, NULL);
}

static PyObject *run (Writer *w, PyObject *args, int rows)
{
  const char *sql;
  PyObject *params = no_args;
  if (!PyArg_ParseTuple (args, rows ? "s|O!:fetch" : "s|O!:execute", &sql, &PyTuple_Type,
                         &params))
    return NULL;
  if (w->db == NULL)
    return PyErr_Format (sql_ProgrammingError, "Cannot operate on a closed database.");
  if (rows_flush (&w->rows) < 0)
    return NULL;
  return sql_run (w->db, sql, params, rows);
}

static PyObject *writer_execute (Writer *w, PyObject *args)
{
  return run (w, args, 0);
}

static PyObject *writer_fetch (Writer *w, PyObject *args)
{
  return run (w, args, 1);
}

/* number(insert, numbers): see storeorder.h (the rows still waiting first) */
static PyObject *writer_number (Writer *w, PyObject *args)
{
  const char *insert;
  int numbers;
  if (!PyArg_ParseTuple (args, "sp:number", &insert, &numbers))
    return NULL;
  if (w->db == NULL)
    return PyErr_Format (sql_ProgrammingError, "Cannot operate on a closed database.");
  if (w->firsts == NULL)
    Py_RETURN_NONE;
  if (rows_flush (&w->rows) < 0)
    return NULL;
  return number (w->db, w->firsts, w->count, insert, numbers);
}

/* use_flows(out, in): each (data, starts, seqs) or None */
static PyObject *writer_use_flows (Writer *w, PyObject *args)
{
  PyObject *out, *in;
  if (!PyArg_ParseTuple (args, "OO:use_flows", &out, &in))
    return NULL;
  if (ref_flow_set (&w->flow[0], out) < 0 || ref_flow_set (&w->flow[1], in) < 0)
    return NULL;
  Py_RETURN_NONE;
}

static PyObject *writer_last_body (Writer *w, void *unused)
{
  return Py_NewRef (w->v[D_BODY] != NULL ? w->v[D_BODY] : Py_None);
}

static PyObject *writer_close_method (Writer *w, PyObject *unused)
{
  forget (w);
  writer_close (w);
  Py_RETURN_NONE;
}

static int writer_traverse (Writer *w, visitproc visit, void *arg)
{
  for (int i = 0; i < DN; i++)
    Py_VISIT (w->v[i]);
  Py_VISIT (w->req);
  Py_VISIT (w->draft);
  Py_VISIT (w->message);
  Py_VISIT (w->values);
  Py_VISIT (w->kinds);
  Py_VISIT (w->dumps);
  Py_VISIT (w->seqs);
  Py_VISIT (w->firsts);
  Py_VISIT (w->flow[0].data);
  Py_VISIT (w->flow[1].data);
  return facts_traverse (&w->facts, visit, arg);
}

static int writer_clear (Writer *w)
{
  forget (w);
  writer_close (w); /* the statements first: they bind what bound[] holds in place */
  Py_CLEAR (w->draft);
  Py_CLEAR (w->message);
  Py_CLEAR (w->values);
  Py_CLEAR (w->kinds);
  Py_CLEAR (w->dumps);
  Py_CLEAR (w->seqs);
  Py_CLEAR (w->firsts);
  return 0;
}

static void writer_dealloc (Writer *w)
{
  PyObject_GC_UnTrack (w);
  writer_close (w);
  writer_clear (w);
  rows_free (&w->rows);
  Py_TYPE (w)->tp_free ((PyObject *) w);
}

static PyObject *writer_count (Writer *w, void *unused)
{
  return PyLong_FromLongLong (w->count);
}

static PyMethodDef writer_methods[] = {
  {"add", (PyCFunction) writer_add, METH_O,
   "add(draft) -> key: write the draft's row (and give the draft its key)."},
  {"message", (PyCFunction) writer_message, METH_NOARGS,
   "The last added draft as the store reads it back (key ids), or None: read it back."},
  {"add_message", (PyCFunction) writer_add_message, METH_O,
   "add_message(draft): add(draft), then message(), in one call."},
  {"put", (PyCFunction) writer_put, METH_VARARGS,
   "put(drafts, peer_host, stamps): stamps.put_drafts in C (each Message the draft itself)."},
  {"number", (PyCFunction) writer_number, METH_VARARGS,
   "number(insert, numbers) -> list | None: StoreWriter.finish's numbering."},
  {"execute", (PyCFunction) writer_execute, METH_VARARGS,
   "execute(sql, params=()): run one statement to its end."},
  {"fetch", (PyCFunction) writer_fetch, METH_VARARGS,
   "fetch(sql, params=()) -> rows, as the sqlite3 module reads them."},
  {"use_flows", (PyCFunction) writer_use_flows, METH_VARARGS,
   "use_flows(out, in): the flows (data, starts, seqs) or None whose bodies add stores as"
   " references."},
  {"close", (PyCFunction) writer_close_method, METH_NOARGS, "Close the database (no commit)."},
  {NULL}
};

static PyGetSetDef writer_getset[] = {
  {"count", (getter) writer_count, NULL, "Keys given so far.", NULL},
  {"last_body", (getter) writer_last_body, NULL, "The last added draft's body.", NULL},
  {NULL}
};

static PyTypeObject WriterType = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "harness.parse._store.Writer",
  .tp_basicsize = sizeof (Writer),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
  .tp_doc = "Writer(path, script, insert, facts, Draft, Message, values, kinds, dumps,"
            " firsts=None, chunk=..., limit=256, limit_bytes=0)",
  .tp_new = PyType_GenericNew,
  .tp_init = (initproc) writer_init,
  .tp_dealloc = (destructor) writer_dealloc,
  .tp_traverse = (traverseproc) writer_traverse,
  .tp_clear = (inquiry) writer_clear,
  .tp_methods = writer_methods,
  .tp_getset = writer_getset,
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "harness.parse._store",
  "analysis.sqlite written through SQLite's C API (store.StoreWriter's fast path).", -1, NULL
};

PyMODINIT_FUNC PyInit__store (void)
{
  if (PyType_Ready (&WriterType) < 0)
    return NULL;
  if (sql_init () < 0)
    return NULL;
  no_args = PyTuple_New (0);
  PyObject *m = NULL;
  if (no_args != NULL)
    m = PyModule_Create (&module);
  if (m != NULL && PyModule_AddObjectRef (m, "Writer", (PyObject *) &WriterType) < 0)
    Py_CLEAR (m);
  return m;
}

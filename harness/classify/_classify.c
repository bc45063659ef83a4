/* Classifier.add (harness/classify/destinations.py) in C: every message of a run passes
 * through it, ~245,000 on the 200 MB benchmark, where the Python method took ~12,000
 * instructions a message (6% of `harness analyze`), most of them in the interpreter's
 * attribute reads, an enum's Python __hash__ for the kind test, and the size's loop.
 *
 * Adder.add takes the messages whose fields have the types Message declares (exact str,
 * int, bytes, tuple, dict; a MessageKind kind) and accumulators (_Acc) whose fields are
 * exact sets, a list and ints: it reads them at their slots' offsets and does what the
 * reference, Classifier.add_reference, does. Anything else it hands to the reference
 * untouched, having changed nothing: a Java HTTP stack record seen on the wire too (rare,
 * and it touches stack_ids), a field of another type (whatever Python would do with it,
 * error included, the reference does), a size beyond a long long. Everything it decides
 * before changing anything; the changes that follow cannot fail but for memory.
 * tests/classify/test_add.py compares the two on generated messages.
 *
 * What it does to an _Acc's ints and sets is accfields.h's: no int made only to be added,
 * no set searched for an ip, port, phase... the last add found there.
 *
 * verified_sdks (sdks.c) is sdks_of (destinations.py) over a list of findings, read at their
 * slots; sdks_at_ids (sdks.c) the SDKs Classifier.destinations gives each host from its
 * ids. */

#include "accfields.h"
#include "msgfields.h"
#include "sdks.h"
#include "../slotoffset.h"
#include <structmember.h>

/* The Message fields add reads (Message has more) */
#define MESSAGE_FIELDS(X)                                                                    \
  X (ID, id) X (KIND, kind) X (DIRECTION, direction) X (SOURCE, source) X (PHASE, phase)     \
  X (PROTOCOL, protocol) X (HOST, host) X (IP, ip) X (PORT, port)                            \
  X (TLS_VERSION, tls_version) X (CIPHER, cipher) X (METHOD, method) X (URL, url)            \
  X (HEADERS, headers) X (BODY, body) X (BODY_LEN_WIRE, body_len_wire) X (LINKS, links)      \
  X (SDK, sdk) X (META, meta)

/* _Acc's fields, all of them (add checks each before it changes any) */
#define ACC_FIELDS(X)                                                                        \
  X (IPS, ips) X (PORTS, ports) X (SDKS, sdks) X (TLS, tls) X (CIPHERS, ciphers)             \
  X (PHASES, phases) X (IDS, ids) X (MESSAGES, messages) X (BYTES_OUT, bytes_out)           \
  X (BYTES_IN, bytes_in)

#define M_INDEX(index, name) M_##index,
#define A_INDEX(index, name) A_##index,
#define NAME(index, name) #name,
enum { MESSAGE_FIELDS (M_INDEX) MN };
enum { ACC_FIELDS (A_INDEX) AN };
static const char *const MESSAGE[MN] = { MESSAGE_FIELDS (NAME) };
static const char *const ACC[AN] = { ACC_FIELDS (NAME) };
#undef M_INDEX
#undef A_INDEX
#undef NAME

/* the sets of _Acc, the ones a message's strings and port go into */
#define A_SETS A_IDS

#define MAX_KINDS 16

/* The reference's constants (destinations.py: _tls_of, _size, add), interned once */
static PyObject *s_tls_unknown, *s_plaintext, *s_stack, *s_body_len;

/* The Adder's references but the network kinds, each named once for init, traverse and
   clear: X(name) for each */
#define ADDER_REFS(X) X (accs) X (below) X (message) X (acc) X (kind) X (fallback)

typedef struct
{
  PyObject_HEAD
  PyObject *accs, *below; /* the classifier's dicts: host -> _Acc */
  PyTypeObject *message, *acc, *kind;
  PyObject *fallback; /* a WeakMethod of the reference: no cycle through the classifier */
  PyObject *network[MAX_KINDS]; /* the MessageKind members that crossed the network */
  int nnetwork;
  Py_ssize_t moff[MN], aoff[AN];
  Py_ssize_t slot[A_SETS]; /* for each of _Acc's sets, where set_add last found its item */
} Adder;

/* Adder(accs, below, Message, _Acc, MessageKind, network kinds, WeakMethod(reference)) */
static int adder_init (Adder *ad, PyObject *args, PyObject *kwds)
{
  PyObject *accs, *below, *message, *acc, *kind, *network, *fallback;
  if (!PyArg_ParseTuple (args, "O!O!O!O!O!O!O:Adder", &PyDict_Type, &accs, &PyDict_Type,
                         &below, &PyType_Type, &message, &PyType_Type, &acc, &PyType_Type,
                         &kind, &PyFrozenSet_Type, &network, &fallback))
    return -1;
  if (!PyCallable_Check (fallback))
  {
    PyErr_SetString (PyExc_TypeError, "Adder: the reference's WeakMethod is not callable");
    return -1;
  }
  Py_ssize_t moff[MN], aoff[AN]; /* set only once all is known (init may run again) */
  for (int i = 0; i < MN; i++)
    if (slot_offset ((PyTypeObject *) message, MESSAGE[i], &moff[i]) < 0)
      return -1;
  for (int i = 0; i < AN; i++)
    if (slot_offset ((PyTypeObject *) acc, ACC[i], &aoff[i]) < 0)
      return -1;
  /* the kind test compares members by identity: a MessageKind is one of its members */
  PyObject *kinds = PySequence_Tuple (network);
  if (kinds == NULL)
    return -1;
  Py_ssize_t n = PyTuple_GET_SIZE (kinds);
  for (Py_ssize_t i = 0; i < n; i++)
    if (n > MAX_KINDS || !Py_IS_TYPE (PyTuple_GET_ITEM (kinds, i), (PyTypeObject *) kind))
    {
      PyErr_Format (PyExc_TypeError, "Adder: the network kinds are not at most %d %s",
                    MAX_KINDS, ((PyTypeObject *) kind)->tp_name);
      Py_DECREF (kinds);
      return -1;
    }
  for (int i = 0; i < ad->nnetwork; i++)
    Py_CLEAR (ad->network[i]);
  for (Py_ssize_t i = 0; i < n; i++)
    ad->network[i] = Py_NewRef (PyTuple_GET_ITEM (kinds, i));
  ad->nnetwork = (int) n;
  Py_DECREF (kinds);
  memcpy (ad->moff, moff, sizeof moff);
  memcpy (ad->aoff, aoff, sizeof aoff);
#define SET(name) Py_XSETREF (ad->name, (void *) Py_NewRef (name));
  ADDER_REFS (SET)
#undef SET
  return 0;
}

/* The reference's _tls_of (borrowed; NULL for none), of str-or-None fields, source a str;
   ciphertext: the protocol is "tls-ciphertext" (add has asked already). */
static PyObject *tls_of (PyObject *const *v, int ciphertext)
{
  if (nonempty (v[M_TLS_VERSION]))
    return v[M_TLS_VERSION];
  PyObject *source = v[M_SOURCE], *url = v[M_URL];
  if (ciphertext)
    return s_tls_unknown;
  if (ENDS (source, ".tcp") || ENDS (source, ".udp")
      || (url != Py_None && (STARTS (url, "http://") || STARTS (url, "ws://"))))
    return s_plaintext;
  if (ENDS (source, ".tls"))
    return s_tls_unknown;
  return NULL;
}

/* acc is an _Acc whose fields have their types: its fields into f (borrowed); 1, or 0 */
static int acc_fields (Adder *ad, PyObject *acc, PyObject **f)
{
  if (!Py_IS_TYPE (acc, ad->acc))
    return 0;
  for (int i = 0; i < AN; i++)
  {
    f[i] = *(PyObject **) ((char *) acc + ad->aoff[i]);
    if (f[i] == NULL)
      return 0;
  }
  for (int i = 0; i < A_SETS; i++)
    if (!PySet_CheckExact (f[i]))
      return 0;
  return PyList_CheckExact (f[A_IDS]) && PyLong_CheckExact (f[A_MESSAGES])
    && PyLong_CheckExact (f[A_BYTES_OUT]) && PyLong_CheckExact (f[A_BYTES_IN]);
}

/* acc's int field i (old) plus n (accfields.h) */
static int acc_add (Adder *ad, PyObject *acc, int i, PyObject *old, long long n)
{
  return int_add ((PyObject **) ((char *) acc + ad->aoff[i]), old, n);
}

/* set.add(item) for _Acc's set i (accfields.h) */
static int set_add (Adder *ad, int i, PyObject *set, PyObject *item)
{
  return acc_set_add (set, item, &ad->slot[i]);
}

static PyObject *fallback (Adder *ad, PyObject *m)
{
  PyObject *reference = PyObject_CallNoArgs (ad->fallback);
  if (reference == NULL)
    return NULL;
  PyObject *out = reference == Py_None
    ? PyErr_Format (PyExc_ReferenceError, "the classifier of this Adder is gone")
    : PyObject_CallOneArg (reference, m);
  Py_DECREF (reference);
  return out;
}

/* add(m): what Classifier.add_reference does with m */
static PyObject *adder_add (Adder *ad, PyObject *m)
{
  if (ad->message == NULL)
    return PyErr_Format (PyExc_RuntimeError, "Adder is not set up");
  if (!Py_IS_TYPE (m, ad->message))
    return fallback (ad, m);
  PyObject *v[MN];
  for (int i = 0; i < MN; i++)
  {
    v[i] = *(PyObject **) ((char *) m + ad->moff[i]);
    if (v[i] == NULL)
      return fallback (ad, m);
  }
  if (!Py_IS_TYPE (v[M_KIND], ad->kind))
    return fallback (ad, m);
  int network = 0;
  for (int i = 0; i < ad->nnetwork; i++)
    network |= v[M_KIND] == ad->network[i];
  if (!network)
    Py_RETURN_NONE;
  static const int strs[] = {M_HOST, M_IP, M_PROTOCOL, M_SDK, M_TLS_VERSION, M_CIPHER,
                             M_PHASE, M_METHOD, M_URL};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (!is_str_or_none (v[strs[i]]))
      return fallback (ad, m);
  PyObject *host = nonempty (v[M_HOST]) ? v[M_HOST] : v[M_IP];
  if (!nonempty (host))
    Py_RETURN_NONE;
  long long size, body;
  PyObject *meta = v[M_META], *port = v[M_PORT], *body_len = NULL;
  int shape = PyUnicode_CheckExact (v[M_SOURCE]) && PyUnicode_CheckExact (v[M_DIRECTION])
    && PyTuple_CheckExact (v[M_LINKS]) && PyDict_CheckExact (meta)
    && PyBytes_CheckExact (v[M_BODY]) && (port == Py_None || PyLong_CheckExact (port))
    && head_size (v[M_METHOD], v[M_URL], v[M_HEADERS], &size);
  /* a stack record goes to the reference (it decides on the stack's truth) */
  if (shape && PyTuple_GET_SIZE (v[M_LINKS]) > 0)
  {
    PyObject *stack = PyDict_GetItemWithError (meta, s_stack);
    if (stack == NULL && PyErr_Occurred ())
      return NULL;
    shape = stack == NULL;
  }
  if (shape && v[M_BODY_LEN_WIRE] != Py_None)
    shape = plain_int (v[M_BODY_LEN_WIRE], &body);
  else if (shape)
  {
    body_len = PyDict_GetItemWithError (meta, s_body_len);
    if (body_len == NULL && PyErr_Occurred ())
      return NULL;
    if (body_len != NULL && PyLong_Check (body_len))
      shape = plain_int (body_len, &body);
    else
      body = PyBytes_GET_SIZE (v[M_BODY]);
  }
  if (!shape || __builtin_add_overflow (size, body, &size))
    return fallback (ad, m);
  PyObject *key = host_key (host);
  if (key == NULL)
    return NULL;
  if (PyUnicode_GET_LENGTH (key) == 0)
  {
    Py_DECREF (key);
    Py_RETURN_NONE;
  }
  PyObject *protocol = v[M_PROTOCOL];
  int ciphertext = protocol != Py_None && EQUALS (protocol, "tls-ciphertext");
  PyObject *group = ciphertext ? ad->below : ad->accs;
  PyObject *f[AN], *acc = PyDict_GetItemWithError (group, key);
  if (acc == NULL && PyErr_Occurred ())
    goto error;
  int created = acc == NULL;
  acc = created ? PyObject_CallNoArgs ((PyObject *) ad->acc) : Py_NewRef (acc);
  if (acc == NULL)
    goto error;
  if (!acc_fields (ad, acc, f)) /* an _Acc whose fields are not what add knows */
  {
    Py_DECREF (acc);
    Py_DECREF (key);
    return fallback (ad, m); /* which makes and stores its own _Acc for a new host */
  }
  if (created && PyDict_SetItem (group, key, acc) < 0)
    goto error_acc;
  /* from here on the reference's steps, in its order */
  PyObject *tls = tls_of (v, ciphertext);
  int out = EQUALS (v[M_DIRECTION], "out");
  if ((nonempty (v[M_IP]) && set_add (ad, A_IPS, f[A_IPS], v[M_IP]) < 0)
      || (port != Py_None && PyObject_IsTrue (port) && set_add (ad, A_PORTS, f[A_PORTS], port) < 0)
      || (nonempty (v[M_SDK]) && set_add (ad, A_SDKS, f[A_SDKS], v[M_SDK]) < 0)
      || (tls != NULL && set_add (ad, A_TLS, f[A_TLS], tls) < 0)
      || (nonempty (v[M_CIPHER]) && set_add (ad, A_CIPHERS, f[A_CIPHERS], v[M_CIPHER]) < 0)
      || (nonempty (v[M_PHASE]) && set_add (ad, A_PHASES, f[A_PHASES], v[M_PHASE]) < 0)
      || PyList_Append (f[A_IDS], v[M_ID]) < 0
      || acc_add (ad, acc, A_MESSAGES, f[A_MESSAGES], 1) < 0
      || acc_add (ad, acc, out ? A_BYTES_OUT : A_BYTES_IN,
                  f[out ? A_BYTES_OUT : A_BYTES_IN], size) < 0)
    goto error_acc;
  Py_DECREF (acc);
  Py_DECREF (key);
  Py_RETURN_NONE;
error_acc:
  Py_DECREF (acc);
error:
  Py_DECREF (key);
  return NULL;
}

static int adder_traverse (Adder *ad, visitproc visit, void *arg)
{
#define VISIT(name) Py_VISIT (ad->name);
  ADDER_REFS (VISIT)
#undef VISIT
  for (int i = 0; i < ad->nnetwork; i++)
    Py_VISIT (ad->network[i]);
  return 0;
}

static int adder_clear (Adder *ad)
{
#define CLEAR(name) Py_CLEAR (ad->name);
  ADDER_REFS (CLEAR)
#undef CLEAR
  for (int i = 0; i < ad->nnetwork; i++)
    Py_CLEAR (ad->network[i]);
  ad->nnetwork = 0;
  return 0;
}

static void adder_dealloc (Adder *ad)
{
  PyObject_GC_UnTrack (ad);
  adder_clear (ad);
  Py_TYPE (ad)->tp_free ((PyObject *) ad);
}

static PyMethodDef adder_methods[] = {
  {"add", (PyCFunction) adder_add, METH_O,
   "add(message): count a message under its host, as the reference does."},
  {NULL}
};

static PyTypeObject AdderType = {
  PyVarObject_HEAD_INIT (NULL, 0)
  .tp_name = "harness.classify._classify.Adder",
  .tp_basicsize = sizeof (Adder),
  .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
  .tp_doc = "Adder(accs, below, Message, _Acc, MessageKind, network_kinds, WeakMethod(ref))",
  .tp_new = PyType_GenericNew,
  .tp_init = (initproc) adder_init,
  .tp_dealloc = (destructor) adder_dealloc,
  .tp_traverse = (traverseproc) adder_traverse,
  .tp_clear = (inquiry) adder_clear,
  .tp_methods = adder_methods,
};

static PyMethodDef module_methods[] = {
  {"verified_sdks", verified_sdks, METH_VARARGS,
   "verified_sdks(findings, Finding, sensors_crc, sensors_wire, mixpanel): sdks_of's map of a"
   " list of findings, or None for one it leaves to the reference."},
  {"sdks_at_ids", sdks_at_ids, METH_VARARGS,
   "sdks_at_ids(lists, sdk_of): for each list of store ids, sdk_of's values at the ids it"
   " holds, or None for what it leaves to the reference."},
  {NULL}
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "harness.classify._classify",
  "Classifier.add's, sdks_of's and Classifier.destinations' fast paths (destinations.py).",
  -1, module_methods
};

PyMODINIT_FUNC PyInit__classify (void)
{
  struct { PyObject **p; const char *s; } consts[] = {
    {&s_tls_unknown, "tls (version not captured)"}, {&s_plaintext, "plaintext"},
    {&s_stack, "stack"}, {&s_body_len, "body_len"}};
  for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++)
    if (*consts[i].p == NULL && (*consts[i].p = PyUnicode_InternFromString (consts[i].s)) == NULL)
      return NULL;
  if (sdks_init () < 0)
    return NULL;
  if (PyType_Ready (&AdderType) < 0)
    return NULL;
  PyObject *m = PyModule_Create (&module);
  if (m != NULL && PyModule_AddObjectRef (m, "Adder", (PyObject *) &AdderType) < 0)
    Py_CLEAR (m);
  return m;
}

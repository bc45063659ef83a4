/* The message ids the batch loop (findbatch.c) has seen, to tell whether one came twice: a
 * set of ids that answers len() as a set of them would. The stream's key ids ("k<key>",
 * store.key_id: every id harness analyze hands the loop) are kept in a bitmap by their key,
 * any other id in a set; a PySet_Add of every id, its hash and the set's growth, was ~400
 * instructions a message (detect_find_batch 900.8 M -> 894.7 M instructions on the 20 MB
 * run).
 *
 * Which of the two holds an exact str is a function of its text alone (a key id is "k" and
 * the key's decimal digits without a leading zero, under KEYS), so two exact strs are equal
 * if and only if they land in the same place as the same id. An id that is not an exact str
 * could be equal to one (a str subclass, an object's own __eq__), so from the first such id
 * on every id is kept in the set, the bitmap's keys moved into it as their strs.
 * tests/detect/test_findbatch.py compares it with a set.
 */

#include "ids.h"
#include "keyid.h"

#include <string.h>

#define KEYS ((Py_ssize_t) 1 << 26) /* keys under this in the bitmap (8 MB at most) */

struct Ids {
  PyObject_HEAD
  unsigned char *bits; /* bit k of byte k / 8 set: "k<k>" came */
  Py_ssize_t size;     /* bytes of bits */
  PyObject *others;    /* a set: the other ids (all of them once mixed) */
  Py_ssize_t n;        /* distinct ids */
  int mixed;           /* an id other than an exact str came */
};

/* The key of a key id (an exact str), -1 for any other id. */
static Py_ssize_t key_of (PyObject *id)
{
  Py_ssize_t key;
  return key_id_key (id, 1, &key) && key < KEYS ? key : -1;
}

/* Every id into the set from now on: the bitmap's as their strs. 0 with an exception. */
static int ids_mix (Ids *ids)
{
  for (Py_ssize_t key = 0; key < 8 * ids->size; key++)
    if (ids->bits[key >> 3] & (1u << (key & 7)))
    {
      PyObject *id = PyUnicode_FromFormat ("k%zd", key);
      int ok = id != NULL && PySet_Add (ids->others, id) == 0;
      Py_XDECREF (id);
      if (!ok)
        return 0;
    }
  PyMem_Free (ids->bits);
  ids->bits = NULL;
  ids->size = 0;
  ids->mixed = 1;
  return 1;
}

int ids_add (Ids *ids, PyObject *id)
{
  if (!ids->mixed && !PyUnicode_CheckExact (id) && !ids_mix (ids))
    return -1;
  Py_ssize_t key = ids->mixed ? -1 : key_of (id);
  if (key < 0)
  {
    Py_ssize_t before = PySet_GET_SIZE (ids->others);
    if (PySet_Add (ids->others, id) < 0)
      return -1;
    if (PySet_GET_SIZE (ids->others) == before)
      return 0;
    ids->n++;
    return 1;
  }
  Py_ssize_t byte = key >> 3;
  if (byte >= ids->size)
  {
    Py_ssize_t size = ids->size ? 2 * ids->size : 4096;
    while (size <= byte)
      size *= 2;
    unsigned char *bits = PyMem_Realloc (ids->bits, (size_t) size);
    if (bits == NULL)
    {
      PyErr_NoMemory ();
      return -1;
    }
    memset (bits + ids->size, 0, (size_t) (size - ids->size));
    ids->bits = bits;
    ids->size = size;
  }
  unsigned char bit = (unsigned char) (1u << (key & 7));
  if (ids->bits[byte] & bit)
    return 0;
  ids->bits[byte] |= bit;
  ids->n++;
  return 1;
}

static PyObject *ids_new (PyTypeObject *type, PyObject *args, PyObject *kw)
{
  if (PyTuple_GET_SIZE (args) > 0 || (kw != NULL && PyDict_GET_SIZE (kw) > 0))
  {
    PyErr_SetString (PyExc_TypeError, "Ids() takes no arguments");
    return NULL;
  }
  Ids *ids = (Ids *) type->tp_alloc (type, 0);
  if (ids != NULL && (ids->others = PySet_New (NULL)) == NULL)
    Py_CLEAR (ids);
  return (PyObject *) ids;
}

static void ids_dealloc (Ids *ids)
{
  PyMem_Free (ids->bits);
  Py_XDECREF (ids->others);
  Py_TYPE (ids)->tp_free ((PyObject *) ids);
}

static Py_ssize_t ids_len (Ids *ids)
{
  return ids->n;
}

static int ids_contains (Ids *ids, PyObject *id)
{
  /* one that is not an exact str may be equal to a key id (as in ids_add): asked of the set,
     which holds every id from then on */
  if (!ids->mixed && !PyUnicode_CheckExact (id) && !ids_mix (ids))
    return -1;
  Py_ssize_t key = ids->mixed ? -1 : key_of (id);
  if (key < 0)
    return PySet_Contains (ids->others, id);
  return (key >> 3) < ids->size && (ids->bits[key >> 3] & (1u << (key & 7)));
}

static PyObject *ids_add_py (Ids *ids, PyObject *id)
{
  int added = ids_add (ids, id);
  return added < 0 ? NULL : PyBool_FromLong (added);
}

static PySequenceMethods ids_sequence = {
  .sq_length = (lenfunc) ids_len,
  .sq_contains = (objobjproc) ids_contains,
};

static PyMethodDef ids_methods[] = {
  { "add", (PyCFunction) ids_add_py, METH_O, "add(id) -> bool: whether it had not come" },
  { NULL, NULL, 0, NULL },
};

PyTypeObject IdsType = {
  PyVarObject_HEAD_INIT (NULL, 0).tp_name = "harness.detect._detect.Ids",
  .tp_basicsize = sizeof (Ids),
  .tp_flags = Py_TPFLAGS_DEFAULT,
  .tp_doc = "The message ids find_batch has seen: len() is how many differ.",
  .tp_new = ids_new,
  .tp_dealloc = (destructor) ids_dealloc,
  .tp_as_sequence = &ids_sequence,
  .tp_methods = ids_methods,
};

int ids_ready (PyObject *module)
{
  return PyType_Ready (&IdsType) == 0
      && PyModule_AddObjectRef (module, "Ids", (PyObject *) &IdsType) == 0;
}

/* SDKs for _classify.c: sdks_of (harness/classify/destinations.py) over a list of findings,
 * which SDK each message's findings verify, read at the findings' slots; and the SDKs of
 * each host's messages among those (Classifier.destinations). */

#include "sdks.h"
#include "../detect/keyid.h" /* prefixed_number */
#include "../parse/asciitext.h" /* STARTS */
#include "../slotoffset.h"

#include <stdint.h>

/* the reference's _verified_sdk's mark of a Sensors payload whose crc checked */
static PyObject *s_crc_ok;

int sdks_init (void)
{
  if (s_crc_ok == NULL && (s_crc_ok = PyUnicode_InternFromString ("crc ok")) == NULL)
    return -1;
  return 0;
}

/* verified_sdks(findings, Finding, sensors_crc, sensors_wire, mixpanel): sdks_of
   (destinations.py) of a list of exact Findings whose message is a str and whose chain is a
   tuple of strs, the three SDK names given by the reference; None for any other list, which
   the reference then reads whole. Its Python loop took ~1,500 instructions a finding, most
   of them hashing and comparing each finding's own chain tuple to find the chain's SDK out
   once; testing a step's first bytes costs less than either. */
PyObject *verified_sdks (PyObject *self, PyObject *args)
{
  PyObject *findings, *finding, *crc, *wire, *mixpanel;
  Py_ssize_t chain_at, message_at;
  if (!PyArg_ParseTuple (args, "O!O!UUU:verified_sdks", &PyList_Type, &findings,
                         &PyType_Type, &finding, &crc, &wire, &mixpanel)
      || slot_offset ((PyTypeObject *) finding, "chain", &chain_at) < 0
      || slot_offset ((PyTypeObject *) finding, "message", &message_at) < 0)
    return NULL;
  PyObject *out = PyDict_New ();
  if (out == NULL)
    return NULL;
  /* nothing below runs Python code (str keys, str searches): the list stays as it is */
  for (Py_ssize_t i = 0; i < PyList_GET_SIZE (findings); i++)
  {
    PyObject *f = PyList_GET_ITEM (findings, i);
    if (!Py_IS_TYPE (f, (PyTypeObject *) finding))
      goto other;
    PyObject *chain = *(PyObject **) ((char *) f + chain_at);
    PyObject *message = *(PyObject **) ((char *) f + message_at);
    if (chain == NULL || message == NULL || !PyTuple_CheckExact (chain)
        || !PyUnicode_CheckExact (message))
      goto other;
    PyObject *sdk = NULL; /* the last verified format's, as _verified_sdk has it */
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE (chain); j++)
    {
      PyObject *step = PyTuple_GET_ITEM (chain, j);
      if (!PyUnicode_CheckExact (step))
        goto other;
      if (STARTS (step, "sensors:"))
      {
        Py_ssize_t at = PyUnicode_Find (step, s_crc_ok, 0, PY_SSIZE_T_MAX, 1);
        if (at == -2)
          goto error;
        sdk = at >= 0 ? crc : wire;
      }
      else if (STARTS (step, "mixpanel:"))
        sdk = mixpanel;
    }
    if (sdk != NULL && PyDict_SetItem (out, message, sdk) < 0)
      goto error;
  }
  return out;
other:
  Py_DECREF (out);
  Py_RETURN_NONE;
error:
  Py_DECREF (out);
  return NULL;
}

/* A table of store numbers to SDK names (an open-addressing hash of the numbers, a power of
   two slots, at least twice the entries): num -1 is an empty slot */
typedef struct
{
  Py_ssize_t num;
  PyObject *sdk; /* held: a collection while the answer is made could free sdk_of's */
} Slot;

static Slot *slot_of (Slot *table, size_t mask, Py_ssize_t num)
{
  size_t at = (size_t) (((uint64_t) num * 0x9e3779b97f4a7c15u) >> 17) & mask;
  while (table[at].num >= 0 && table[at].num != num)
    at = (at + 1) & mask;
  return &table[at];
}

/* sdks_at_ids(lists, sdk_of): for each list of store ids, the values of sdk_of at the ids
   it holds (the reference's map(sdk_of.__getitem__, sdk_of.keys() & ids), in the lists'
   order, a value once for a run of ids with the same); None for what it leaves to the
   reference: a dict (exactly) whose keys and values are exact strs, lists (exactly) of ids
   in the form numbering.c writes, "m" and a number without a leading zero. Such an id
   equals a key only if the key has that form with the same number: so each key's number is
   read once, and each id's, where its hash and lookup cost ~300 instructions an id (for
   each of the run's messages, most of them with no finding and no SDK). Everything is read
   before any object is made: what a collection runs then cannot change what was read. */
PyObject *sdks_at_ids (PyObject *self, PyObject *args)
{
  PyObject *lists, *sdk_of;
  if (!PyArg_ParseTuple (args, "O!O!:sdks_at_ids", &PyList_Type, &lists, &PyDict_Type,
                         &sdk_of))
    return NULL;
  if (!PyList_CheckExact (lists) || !PyDict_CheckExact (sdk_of))
    Py_RETURN_NONE;
  Py_ssize_t nlists = PyList_GET_SIZE (lists), total = 0;
  for (Py_ssize_t j = 0; j < nlists; j++)
  {
    PyObject *ids = PyList_GET_ITEM (lists, j);
    if (!PyList_CheckExact (ids))
      Py_RETURN_NONE;
    total += PyList_GET_SIZE (ids);
  }
  size_t nslots = 2;
  while (nslots < 2 * (size_t) PyDict_GET_SIZE (sdk_of))
    nslots *= 2;
  Py_ssize_t *nums = PyMem_Malloc (sizeof (Py_ssize_t) * (size_t) (total ? total : 1));
  Py_ssize_t *ends = PyMem_Malloc (sizeof (Py_ssize_t) * (size_t) (nlists ? nlists : 1));
  Slot *table = PyMem_Malloc (sizeof (Slot) * nslots);
  PyObject *out = NULL;
  if (nums == NULL || ends == NULL || table == NULL)
  {
    PyErr_NoMemory ();
    goto done;
  }
  for (size_t i = 0; i < nslots; i++)
    table[i] = (Slot) { -1, NULL };
  for (Py_ssize_t j = 0, at = 0; j < nlists; j++)
  {
    PyObject *ids = PyList_GET_ITEM (lists, j);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE (ids); i++)
      if (!prefixed_number (PyList_GET_ITEM (ids, i), 'm', 1, &nums[at++]))
        goto other;
    ends[j] = at;
  }
  Py_ssize_t pos = 0, num;
  PyObject *key, *sdk;
  while (PyDict_Next (sdk_of, &pos, &key, &sdk))
  {
    if (!PyUnicode_CheckExact (key) || !PyUnicode_CheckExact (sdk))
      goto other;
    if (prefixed_number (key, 'm', 1, &num)) /* else no id's: each is of that form */
      *slot_of (table, nslots - 1, num) = (Slot) { num, Py_NewRef (sdk) };
  }
  if ((out = PyList_New (nlists)) == NULL)
    goto done;
  for (Py_ssize_t j = 0, at = 0; j < nlists; j++)
  {
    PyObject *found = PyList_New (0), *last = NULL;
    if (found == NULL)
      goto fail;
    PyList_SET_ITEM (out, j, found);
    for (; at < ends[j]; at++)
    {
      sdk = slot_of (table, nslots - 1, nums[at])->sdk;
      if (sdk != NULL && sdk != last && PyList_Append (found, sdk) < 0)
        goto fail;
      last = sdk != NULL ? sdk : last;
    }
  }
  goto done;
fail:
  Py_CLEAR (out);
  goto done;
other:
  out = Py_NewRef (Py_None);
done:
  for (size_t i = 0; table != NULL && i < nslots; i++)
    Py_XDECREF (table[i].sdk);
  PyMem_Free (table);
  PyMem_Free (nums);
  PyMem_Free (ends);
  return out;
}

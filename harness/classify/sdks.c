/* sdks_of (harness/classify/destinations.py) over a list of findings, for _classify.c: which
 * SDK each message's findings verify, read at the findings' slots. */

#include "sdks.h"
#include "../parse/asciitext.h" /* STARTS */
#include "../slotoffset.h"

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

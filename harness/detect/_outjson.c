/* What harness analyze makes of its findings, in C: their numbering in the store's order
 * (numbering.c), findings.json's lines (findinglines.c) and destinations.json's indented
 * text (jsonindent.c); the module's functions, here. */

#include "findinglines.h"
#include "floatrepr.h"
#include "jsonindent.h"
#include "numbering.h"

/* findings_json(findings, Finding, line): findinglines.c's text of the findings */
static PyObject *findings_json (PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
  if (nargs != 3 || !PyType_Check (args[1]))
  {
    PyErr_SetString (PyExc_TypeError, "findings_json(findings, Finding, line)");
    return NULL;
  }
  PyObject *seq = PySequence_Fast (args[0], "findings_json: findings is not a sequence");
  if (seq == NULL)
    return NULL;
  Lines *l = lines_new ((PyTypeObject *) args[1], args[2]);
  /* line() may change a list: its length and items are read again each time */
  for (Py_ssize_t i = 0; l != NULL && i < PySequence_Fast_GET_SIZE (seq); i++)
    if (lines_put (l, PySequence_Fast_GET_ITEM (seq, i)) < 0)
    {
      lines_free (l);
      l = NULL;
    }
  Py_DECREF (seq);
  return l == NULL ? NULL : lines_done (l);
}

/* float_repr(x): repr(x) of a float as findings_json writes it (for the tests) */
static PyObject *float_repr_py (PyObject *module, PyObject *x)
{
  double d = PyFloat_AsDouble (x);
  if (d == -1.0 && PyErr_Occurred ())
    return NULL;
  if (!Py_IS_FINITE (d))
  {
    PyErr_SetString (PyExc_ValueError, "float_repr: not a finite float");
    return NULL;
  }
  char text[FLOAT_REPR_MAX];
  int n = float_repr (d, text);
  return n < 0 ? NULL : PyUnicode_FromStringAndSize (text, n);
}

static PyMethodDef methods[] = {
  {"numbered_in_order", (PyCFunction) (void (*) (void)) numbered_in_order, METH_FASTCALL,
   "numbered_in_order(found, numbers, Finding, names) -> list[Finding] | None"},
  {"renumbered_all", (PyCFunction) (void (*) (void)) renumbered_all, METH_FASTCALL,
   "renumbered_all(lists, numbers, names) -> list[list[str]] | None"},
  {"float_repr", float_repr_py, METH_O, "float_repr(x) -> str: repr(x), for the tests"},
  {"findings_json", (PyCFunction) (void (*) (void)) findings_json, METH_FASTCALL,
   "findings_json(findings, Finding, line) -> bytes: findings.json's lines, joined"},
  {"json_indented", json_indented, METH_O,
   "json_indented(obj) -> bytes | None: json.dump(obj, indent=2, ensure_ascii=False)'s text,"
   " encoded as RunDir.write_json writes it; None for what json must write (jsonindent.c)"},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
  PyModuleDef_HEAD_INIT, "harness.detect._outjson",
  "findings numbered, findings.json's lines and destinations.json's text in C (findings.py,"
  " analysis.py, finding.py and json.dump keep the references)", -1,
  methods,
};

PyMODINIT_FUNC PyInit__outjson (void)
{
  return PyModule_Create (&module);
}

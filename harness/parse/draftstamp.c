/* A draft's host and phase stamped in C; see draftstamp.h. */

#include "draftstamp.h"

static const char *const STATE[] = {"at", "gap", "name", "phase", "lo", "hi"};

/* s's fields in STATE's order */
static PyObject **fields (Stamper *s)
{
  _Static_assert (offsetof (Stamper, hi) == 5 * sizeof (PyObject *), "STATE's order");
  return &s->at;
}

int stamper_open (Stamper *s, PyObject *stamps, PyObject *peer_host)
{
  PyObject **f = fields (s);
  for (int i = 0; i < 6; i++)
    if ((f[i] = PyObject_GetAttrString (stamps, STATE[i])) == NULL)
    {
      while (--i >= 0)
        Py_CLEAR (f[i]);
      return -1;
    }
  s->peer_host = Py_NewRef (peer_host);
  return 0;
}

int stamper_close (Stamper *s, PyObject *stamps)
{
  PyObject **f = fields (s);
  int ok = 1;
  for (int i = 3; ok && stamps != NULL && i < 6; i++)
    ok = PyObject_SetAttrString (stamps, STATE[i], f[i]) == 0;
  for (int i = 0; i < 6; i++)
    Py_CLEAR (f[i]);
  Py_CLEAR (s->peer_host);
  return ok ? 0 : -1;
}

/* Python's `lo < t < hi` (floats compared here, anything else by Python) */
static int within (PyObject *lo, PyObject *t, PyObject *hi)
{
  if (PyFloat_CheckExact (lo) && PyFloat_CheckExact (t) && PyFloat_CheckExact (hi))
    return PyFloat_AS_DOUBLE (lo) < PyFloat_AS_DOUBLE (t)
      && PyFloat_AS_DOUBLE (t) < PyFloat_AS_DOUBLE (hi);
  int r = PyObject_RichCompareBool (lo, t, Py_LT);
  return r <= 0 ? r : PyObject_RichCompareBool (t, hi, Py_LT);
}

/* Draft slot i of d (borrowed), or NULL with AttributeError for an unset one */
static PyObject *slot (PyObject *d, const Py_ssize_t *doff, int i)
{
  PyObject *v = *(PyObject **) ((char *) d + doff[i]);
  if (v == NULL)
    PyErr_SetString (PyExc_AttributeError, DRAFT[i]);
  return v;
}

static void set_slot (PyObject *d, const Py_ssize_t *doff, int i, PyObject *v)
{
  Py_XSETREF (*(PyObject **) ((char *) d + doff[i]), v);
}

/* `phase = at(t); lo, hi = gap(t)` */
static int ask (Stamper *s, PyObject *t)
{
  PyObject *phase = PyObject_CallOneArg (s->at, t);
  if (phase == NULL)
    return -1;
  Py_SETREF (s->phase, phase);
  PyObject *got = PyObject_CallOneArg (s->gap, t);
  PyObject *pair = got != NULL ? PySequence_Tuple (got) : NULL;
  Py_XDECREF (got);
  if (pair == NULL)
    return -1;
  if (PyTuple_GET_SIZE (pair) != 2)
  {
    PyErr_Format (PyExc_ValueError, "PhaseClock.gap gave %zd values, not 2",
                  PyTuple_GET_SIZE (pair));
    Py_DECREF (pair);
    return -1;
  }
  Py_SETREF (s->lo, Py_NewRef (PyTuple_GET_ITEM (pair, 0)));
  Py_SETREF (s->hi, Py_NewRef (PyTuple_GET_ITEM (pair, 1)));
  Py_DECREF (pair);
  return 0;
}

/* `d.host = d.sni or peer_host or name(d.ip, t)` */
static int name (Stamper *s, PyObject *d, const Py_ssize_t *doff, PyObject *t)
{
  PyObject *sni = slot (d, doff, D_SNI);
  int yes = sni != NULL ? PyObject_IsTrue (sni) : -1;
  if (yes < 0)
    return -1;
  PyObject *host;
  if (yes)
    host = Py_NewRef (sni);
  else if ((yes = PyObject_IsTrue (s->peer_host)) != 0)
    host = yes > 0 ? Py_NewRef (s->peer_host) : NULL;
  else
  {
    PyObject *ip = slot (d, doff, D_IP);
    host = ip != NULL ? PyObject_CallFunctionObjArgs (s->name, ip, t, NULL) : NULL;
  }
  if (host == NULL)
    return -1;
  set_slot (d, doff, D_HOST, host);
  return 0;
}

int stamp (Stamper *s, PyObject *d, const Py_ssize_t *doff)
{
  PyObject *t = slot (d, doff, D_T), *host;
  if (t == NULL)
    return -1;
  Py_INCREF (t); /* the calls below are Python's: d.t may change, t does not */
  int ok = (host = slot (d, doff, D_HOST)) != NULL;
  int named = ok ? PyObject_IsTrue (host) : -1;
  ok = named > 0 || (named == 0 && name (s, d, doff, t) == 0);
  int in = ok ? within (s->lo, t, s->hi) : -1;
  ok = in > 0 || (in == 0 && ask (s, t) == 0);
  Py_DECREF (t);
  if (ok)
    set_slot (d, doff, D_PHASE, Py_NewRef (s->phase));
  return ok ? 0 : -1;
}

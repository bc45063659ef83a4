/* What Classifier.add_reference (harness/classify/destinations.py) does to an _Acc's
 * fields, for _classify.c, without the objects it made and let go of: an int field's sum
 * made of two long longs, a set's item found where it was found last. Each takes the
 * fields of the types _Acc declares (exact int, exact set), as the adder checks first.
 *
 * Header only, everything static (one extension includes it). */

#ifndef ACCFIELDS_H
#define ACCFIELDS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "msgfields.h" /* plain_int */

/* *field (old, an int) plus n, as `+=`: summed here where it fits a long long (the sum of
   two ints and an int of n, made by PyNumber_Add and PyLong_FromLongLong, were two objects
   made and one freed a field, ~170 instructions). 0, or -1 with an exception set. */
static int int_add (PyObject **field, PyObject *old, long long n)
{
  long long x, total;
  PyObject *sum;
  if (plain_int (old, &x) && !__builtin_add_overflow (x, n, &total))
    sum = PyLong_FromLongLong (total);
  else
  {
    PyObject *k = PyLong_FromLongLong (n);
    sum = k != NULL ? PyNumber_Add (old, k) : NULL;
    Py_XDECREF (k);
  }
  if (sum == NULL)
    return -1;
  Py_SETREF (*field, sum);
  return 0;
}

/* Whether a set's key (a slot's: an item, NULL or the dummy) is item or, both exact str or
   both exact int, equal to it (a connection's messages give a host's sets other objects of
   the texts and ports earlier connections put there) */
static int same_item (PyObject *key, PyObject *item)
{
  if (key == item)
    return 1;
  if (key == NULL || Py_TYPE (key) != Py_TYPE (item))
    return 0;
  if (PyLong_CheckExact (key))
  {
    long long x, y;
    return plain_int (key, &x) && plain_int (item, &y) && x == y;
  }
  if (!PyUnicode_CheckExact (key))
    return 0;
  Py_ssize_t n = PyUnicode_GET_LENGTH (key);
  int kind = PyUnicode_KIND (key);
  return n == PyUnicode_GET_LENGTH (item) && kind == PyUnicode_KIND (item)
    && memcmp (PyUnicode_DATA (key), PyUnicode_DATA (item), (size_t) n * (size_t) kind) == 0;
}

/* set.add(item), set an exact set: nothing to do where the set's table holds item
   (same_item) at *slot, where the last call with slot found its item (a connection's
   messages, one after another, give their host's sets the same ip, port, phase...:
   PySet_Add took ~140 instructions each to find them there). A slot holds an item of the
   set or is free or a dummy, whatever changed the set since: the test needs no other.
   *slot is then where item is, or -1. 0, or -1 with an exception set. */
static int acc_set_add (PyObject *set, PyObject *item, Py_ssize_t *slot)
{
  PySetObject *so = (PySetObject *) set;
  Py_ssize_t at = *slot;
  if (at >= 0 && at <= so->mask && same_item (so->table[at].key, item))
    return 0;
  Py_hash_t h;
  if (PySet_Add (set, item) < 0 || (h = PyObject_Hash (item)) == -1)
    return -1;
  /* its slot: where its probe starts or one of the next few (all of a small table's), as
     PySet_Add looks; else none is kept */
  *slot = -1;
  for (size_t k = 0; k < 8; k++)
  {
    size_t j = ((size_t) h + k) & (size_t) so->mask;
    if (so->table[j].hash == h && same_item (so->table[j].key, item))
    {
      *slot = (Py_ssize_t) j;
      break;
    }
  }
  return 0;
}

#endif

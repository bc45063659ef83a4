/* A message's findings by their keys, for find_message's check of a key found again while
 * seen is None (foundkeys.h says why): an open-addressing table of indices in Names, at most
 * half full, by a hash of the key's parts. tests/detect/test_findbatch.py runs it with ids
 * that repeat and ids that do not, and a message whose keys come again past the table's
 * first size.
 */

#include "foundkeys.h"

/* A key's hash from its parts' (name, each step of the chain, in order): equal keys have
   equal hashes however their chains were made (a layer's chain and a step after it). */
Py_hash_t keys_mix (Py_hash_t h, Py_hash_t part)
{
  Py_uhash_t x = (Py_uhash_t) h ^ (Py_uhash_t) part;
  x *= (Py_uhash_t) 0x9E3779B97F4A7C15ULL;
  return (Py_hash_t) (x ^ (x >> 29));
}

/* The hash of a chain's steps, mixed into h. The first (the root's label, one str for all
   the message's roots) counts by its length: hashing it, new each message, was as much as
   all the rest. -1 with an exception set (an unhashable step). */
int keys_mix_steps (PyObject *chain, Py_hash_t *h)
{
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE (chain); i++)
  {
    PyObject *step = PyTuple_GET_ITEM (chain, i);
    Py_hash_t part = i == 0 && PyUnicode_Check (step) ? PyUnicode_GET_LENGTH (step)
        : PyObject_Hash (step);
    if (part == -1)
      return -1;
    *h = keys_mix (*h, part);
  }
  return 0;
}

/* Whether found[at]'s key is (name, chain + step, step None for none): 1, 0, -1 with an
   exception set. */
static int same_key (PyObject *found, Py_ssize_t at, PyObject *old_name, PyObject *name,
    PyObject *chain, PyObject *step)
{
  PyObject *had = PyTuple_GET_ITEM (PyList_GET_ITEM (found, at), 2);
  Py_ssize_t k = PyTuple_GET_SIZE (chain);
  if (PyTuple_GET_SIZE (had) != k + (step != Py_None))
    return 0;
  int eq = PyObject_RichCompareBool (old_name, name, Py_EQ);
  for (Py_ssize_t i = 0; eq > 0 && i < k; i++)
    eq = PyObject_RichCompareBool (PyTuple_GET_ITEM (had, i), PyTuple_GET_ITEM (chain, i),
        Py_EQ);
  if (eq > 0 && step != Py_None)
    eq = PyObject_RichCompareBool (PyTuple_GET_ITEM (had, k), step, Py_EQ);
  return eq;
}

/* Whether no finding of this message has the key (name, chain + step) of hash h: 1, 0, -1
   with an exception set. */
int keys_new (const Names *names, PyObject *found, Py_hash_t h, PyObject *name,
    PyObject *chain, PyObject *step)
{
  size_t mask = (size_t) names->slots - 1;
  for (size_t i = (size_t) h & mask; names->slots > 0; i = (i + 1) & mask)
  {
    Py_ssize_t at = names->slot[i] - 1;
    if (at < 0)
      break;
    if (names->hash[at] == h)
    {
      int same = same_key (found, names->start + at, names->v[at], name, chain, step);
      if (same != 0)
        return same < 0 ? -1 : 0;
    }
  }
  return 1;
}

/* names->v[at] (of hash h) into the first free slot from h's. */
void keys_put (Names *names, Py_ssize_t at, Py_hash_t h)
{
  size_t mask = (size_t) names->slots - 1, i = (size_t) h & mask;
  while (names->slot[i] != 0)
    i = (i + 1) & mask;
  names->slot[i] = at + 1;
}

/* Room in names for one more, in the table too where there is one (made again, larger, to
   stay at most half full). 0 with MemoryError. */
int keys_room (Names *names, int table)
{
  if (names->n == names->cap)
  {
    Py_ssize_t cap = names->cap ? 2 * names->cap : 16;
    PyObject **v = PyMem_Realloc (names->v, sizeof (PyObject *) * (size_t) cap);
    if (v != NULL)
      names->v = v;
    Cut *cut = v == NULL ? NULL : PyMem_Realloc (names->cut, sizeof (Cut) * (size_t) cap);
    if (cut != NULL)
      names->cut = cut;
    Py_hash_t *hash = cut == NULL || !table ? NULL
        : PyMem_Realloc (names->hash, sizeof (Py_hash_t) * (size_t) cap);
    if (cut == NULL || (table && hash == NULL))
    {
      PyErr_NoMemory ();
      return 0;
    }
    names->hash = table ? hash : names->hash;
    names->cap = cap;
  }
  if (!table || 2 * (names->n + 1) <= names->slots)
    return 1;
  Py_ssize_t slots = names->slots ? 2 * names->slots : 16;
  Py_ssize_t *slot = PyMem_Calloc ((size_t) slots, sizeof (Py_ssize_t));
  if (slot == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  PyMem_Free (names->slot);
  names->slot = slot;
  names->slots = slots;
  for (Py_ssize_t at = 0; at < names->n; at++)
    keys_put (names, at, names->hash[at]);
  return 1;
}


/* The findings one call of find_message appends (found.c): their needle names, for
 * _most_specific's choice among them, and, where seen is None, a table of them by their
 * key's hash (foundkeys.c). seen None says no message id has come twice so far
 * (findings.find_unnumbered), so only this message's findings can have a key it makes: they
 * are looked for here, without a key tuple or the run's set, whose hashing of every
 * finding's chain tuple was most of a finding's cost (detect_find_batch without the walk
 * 189.3 M -> 173.8 M instructions on the 20 MB run). */

#ifndef EGRESS_FOUNDKEYS_H
#define EGRESS_FOUNDKEYS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Where a finding's excerpt is rendered from (findings.excerpt's data, start, end): the
   bytes of the layer that matched, which the walk holds until find_message is done. */
typedef struct {
  const char *d;
  Py_ssize_t n, start, end;
} Cut;

typedef struct {
  PyObject **v;
  Py_hash_t *hash;    /* each one's key hash (seen None) */
  Cut *cut;           /* each one's excerpt, rendered once _most_specific keeps it */
  Py_ssize_t n, cap;  /* of v, hash and cut */
  Py_ssize_t start;   /* the first one's index in found */
  Py_ssize_t *slot;   /* open addressing: an index in v plus 1, 0 for none */
  Py_ssize_t slots;   /* a power of two, more than twice n; 0 before the first */
} Names;

/* h and a part's hash mixed. A key's hash mixes its parts' (each step of the chain in order,
   then the needle's name): equal keys have equal hashes however their chains were made (a
   layer's chain and a step after it). */
Py_hash_t keys_mix (Py_hash_t h, Py_hash_t part);

/* The hash of a chain's steps, mixed into *h. -1 with an exception set. */
int keys_mix_steps (PyObject *chain, Py_hash_t *h);

/* Whether no finding in names has the key (name, chain + step; step None for none) of hash
   h: 1, 0, -1 with an exception set. */
int keys_new (const Names *names, PyObject *found, Py_hash_t h, PyObject *name,
    PyObject *chain, PyObject *step);

/* names->v[at], of key hash h, into the table. */
void keys_put (Names *names, Py_ssize_t at, Py_hash_t h);

/* Room in names for one more, and in its table where table is set. 0 with MemoryError. */
int keys_room (Names *names, int table);

#endif

/* A message's roots in C (roots.c), for rootpairs.root_pairs and the batch loop's walk. */

#ifndef EGRESS_ROOTS_H
#define EGRESS_ROOTS_H

#include "expand.h"

/* roots() with its head in parts (str), joined, into r (empty, as roots_clear leaves it;
   its room is kept from one message to the next): 1 made, 0 for what Python must do (r left
   empty), -1 with an exception set (r left empty). */
int roots_make (Roots *r, PyObject *url, PyObject *const *head, int parts, int with_path,
    PyObject *headers, PyObject *body);

/* r's roots as root_pairs gives them, a new list of (chain, bytes); NULL with an exception. */
PyObject *roots_list (const Roots *r);

/* Drops r's references (roots_clear) and its room too (roots_free). */
void roots_clear (Roots *r);
void roots_free (Roots *r);

PyObject *detect_roots (PyObject *self, PyObject *args);

#endif

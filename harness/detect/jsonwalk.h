/* The JSON walk of the detector (decoders.py, Decoder._walk_json) in C, callable from C:
 * the leaves of one document in the walk's order, with the walk's filters (jsonwalk.c). */

#ifndef EGRESS_JSONWALK_H
#define EGRESS_JSONWALK_H

#include "jsonparse.h"

/* A pattern the parent layer matched (its bytes). */
typedef struct {
  const char *p;
  Py_ssize_t n;
} Span;

/* One kept leaf: its path ("$.a[0].b", not NUL-terminated; ASCII, as a key that is not
   gives FALLBACK), its bytes (valid only during
   the call) and whether it is inert. Returns 0 with a Python exception set to stop. */
typedef int (*LeafFn) (void *ctx, const char *path, Py_ssize_t path_len,
    const unsigned char *b, Py_ssize_t n, int inert);

/* Walks s[0, n): OK (every kept leaf given to fn), NOT_JSON, FALLBACK, NO_MEMORY (no
   exception set) or ERROR (fn failed, or Python raised; its exception is set). fn is
   called only once the whole document is read, and only when it is OK then.
   hot == NULL keeps every leaf; else inert leaves and numbers are kept only when they hold
   one of hot[0, hot_count). */
int json_walk (const unsigned char *s, Py_ssize_t n, Py_ssize_t min_leaf, const Span *hot,
    Py_ssize_t hot_count, LeafFn fn, void *ctx);

#endif

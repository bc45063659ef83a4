/* The JSON parser of the detector's C walk (_jsonwalk.c): a check of the document exactly as
 * json.loads checks it (strict strings, its number grammar, its whitespace), into a flat
 * array of nodes. Values json.loads accepts but this parser does not reproduce exactly give
 * FALLBACK (see _jsonwalk.c). */

#ifndef EGRESS_JSONPARSE_H
#define EGRESS_JSONPARSE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#define MAX_DEPTH 200
#define MAX_KEYS 256     /* more members: the duplicate check would be quadratic */
#define MAX_DIGITS 4000  /* Python's int() refuses longer decimal text by default */
#define MAX_NODES (4 << 20) /* 4M values (~230 MB of nodes); a bigger document is Python's */

enum { T_OBJ, T_ARR, T_STR, T_INT, T_FLOAT, T_LIT };
enum { OK = 0, NOT_JSON = 1, FALLBACK = 2, NO_MEMORY = 3 };

typedef struct {
  uint8_t type;
  uint8_t escaped;   /* T_STR: has a backslash */
  uint8_t exponent;  /* T_FLOAT: the literal has an exponent (jsonwalk.c's float_below_1000) */
  Py_ssize_t start;  /* T_STR: after the quote; numbers: the literal */
  Py_ssize_t end;
  Py_ssize_t kstart; /* the member's key (objects), -1 for array items */
  Py_ssize_t kend;
  Py_ssize_t first;  /* containers: first child node, -1 */
  Py_ssize_t next;   /* next sibling, -1 */
} Node;

typedef struct {
  const unsigned char *s;
  Py_ssize_t n;
  Py_ssize_t pos;
  Node *nodes;
  Py_ssize_t count;
  Py_ssize_t cap;
} Parser;

/* The document in p->s[0, p->n): OK with *root set (an object or array at the top, only
   whitespace around it), NOT_JSON, FALLBACK or NO_MEMORY. p->nodes is the caller's to free. */
int json_parse (Parser *p, Py_ssize_t *root);

/* Four hex digits at s[at, at + 4) (within n), or -1. */
long json_hex4 (const unsigned char *s, Py_ssize_t at, Py_ssize_t n);

#endif

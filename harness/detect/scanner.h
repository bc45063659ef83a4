/* The detector's multi-pattern scan in C (scanner.c; the Scanner type, scannertype.c): one
 * compiled Hyperscan database over every derived pattern, which matcher.Matcher scans with
 * from Python and expand.c from C. */

#ifndef EGRESS_SCANNER_H
#define EGRESS_SCANNER_H

#include "jsonwalk.h"

#include <hs/hs.h>

typedef struct {
  PyObject_HEAD
  hs_database_t *db; /* NULL when there are no patterns */
  hs_scratch_t *scratch;
  int loaded;       /* db came from a stored database (Scanner's 4th argument), not compiled */
  PyObject *values; /* tuple of bytes: the patterns' bytes, by id */
  PyObject *tags;   /* tuple: what a match names, by id (matcher.Pattern) */
  PyObject *make;   /* make(tag, start, end) -> a match (matcher.Match) */
} Scanner;

/* One match as Hyperscan reports it. */
typedef struct {
  unsigned int id;
  Py_ssize_t start, end;
} Hit;

/* A scan's matches, in the order Hyperscan reported them. */
typedef struct {
  Hit *v;
  Py_ssize_t n, cap;
  int nomem;
  Hit small[16];
} Hits;

extern PyTypeObject ScannerType;

/* hits as a scan that found nothing leaves them (for hits_free after, as after a scan). */
void hits_none (Hits *hits);

/* The Scanner whose own bound scan method f is, or NULL (f is some other callable). */
Scanner *scanner_of (PyObject *f);

/* Scans d[0, n) into hits (initialised here; hits_free after). 0 with an exception set. */
int scanner_hits (Scanner *sc, const char *d, Py_ssize_t n, Hits *hits);
void hits_free (Hits *hits);

/* The hits as a list of match objects (sc->make), in order. */
PyObject *scanner_matches (Scanner *sc, const Hits *hits);

/* The bytes of pattern id (alive as long as the scanner). */
Span scanner_value (Scanner *sc, unsigned int id);

/* Scans one layer (bytes) for expand.c. With sc (scan's own Scanner) it is run here, without
   a Python call: *hits gets its hits (hits_free after, whatever this returned); otherwise scan
   is called, and *matches is the list it returned (NULL when empty). *hot: the distinct
   pattern bytes matched, NULL when none (PyMem_Free). 0 with an exception set. */
int scan_layer (PyObject *scan, Scanner *sc, PyObject *data, Hits *hits, PyObject **matches,
    Span **hot, Py_ssize_t *hot_count);

#endif

/* The JSON texts of analysis.sqlite's columns, for _store.c: exactly what rowcodec.Dumps (json
 * with separators (",", ":") and ensure_ascii) writes, for the shapes the builder's drafts
 * have; anything else is left to Dumps itself. */

#ifndef STOREJSON_H
#define STOREJSON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "../growbuf.h"

typedef GrowBuf JBuf;

void jbuf_free (JBuf *b);

/* The decimal text of x (what int.__repr__ gives) written at out, which has room for
 * INT_TEXT_MAX bytes; its length. snprintf's "%lld" was a third of the events column's
 * cost, and PyUnicode_FromFormat's half of a Message's. */
#define INT_TEXT_MAX 20
size_t int_text (char *out, long long x);

/* Each writes the text of v into b (emptied first) and returns 1; 0 when v is not of the
 * shape it encodes (b's contents are then meaningless: the caller encodes v otherwise); -1
 * with an exception set. *sur is set when a string held a surrogate code point (json
 * decodes an escaped pair of them as one character, so such a text does not give back its
 * value). */

/* A list or tuple of str: ["a","b"] */
int json_strings (JBuf *b, PyObject *v, int *sur);

/* A list or tuple of lists or tuples of str: [["k","v"]] */
int json_string_lists (JBuf *b, PyObject *v, int *sur);

/* A list or tuple of ints within 64 bits: [1,2] */
int json_ints (JBuf *b, PyObject *v);

/* A dict of str keys to None, bool, an int within 64 bits, a finite float or a str. */
int json_flat_dict (JBuf *b, PyObject *v, int *sur);

/* A str appended to b as json writes it (*sur set for a surrogate). 0, or -1 with an
 * exception set. */
int json_put_str (JBuf *b, PyObject *s, int *sur);

/* An int appended to b as json writes it (int.__repr__), when it is one (not a bool) within
 * 64 bits: 1; 0 for anything else (b as it was); -1 with an exception set. */
int json_put_int (JBuf *b, PyObject *v);

/* A store row's JSON columns, in their order */
enum { J_HEADERS, J_EVENTS, J_FRAMES, J_META, J_NOTES, JN };

/* JSON column j's text of v: written into b by the function above for its shape, or made
 * by calling dumps on v (rowcodec.Dumps, or its seqs for the events) into *text, a new str.
 * *fast is cleared where decoding the text may not give v back (a surrogate, or a shape
 * only dumps writes: decoding it is what says what it gives). 0, or -1 with an exception
 * set. */
int json_column (JBuf *b, int j, PyObject *v, PyObject *dumps, PyObject **text, int *fast);

#endif

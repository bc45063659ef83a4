/* findings.json's lines in C (findinglines.c), for _outjson.c and the numbering. */

#ifndef FINDINGLINES_H
#define FINDINGLINES_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct Lines Lines;

/* A writer of findings.json's text for findings of the type finding, line(f) the line of
   any other (finding.py's Finding and Finding.json_line): NULL with an exception */
Lines *lines_new (PyTypeObject *finding, PyObject *line);

/* f's line written after those before (",\n" between): 0, or -1 with an exception */
int lines_put (Lines *l, PyObject *f);

/* Bytes of text held (written since the start or the last lines_flush) */
size_t lines_held (const Lines *l);

/* The text held given to write(view) (a memoryview of it, released once write returns:
   write must copy what it keeps), the buffer then empty for what comes next: 0, or -1 with
   an exception (write's) */
int lines_flush (Lines *l, PyObject *write);

/* The text held as bytes, l freed: NULL with an exception */
PyObject *lines_done (Lines *l);

/* l freed, its text with it (NULL: nothing) */
void lines_free (Lines *l);

#endif

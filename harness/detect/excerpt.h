/* A finding's excerpt rendered from its clip (excerpt.c), for the numbering (numbering.c). */

#ifndef EXCERPT_H
#define EXCERPT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* render(clip) (findings.py) of a 5-tuple of three bytes and two bools: a new str; NULL
   with an exception, or without one for a clip of other types (render's to make) */
PyObject *render_clip (PyObject *clip);

#endif

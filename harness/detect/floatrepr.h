/* repr() of a float, as Python and json write it, without dtoa's big integers where that is
 * quick to do exactly (floatrepr.c). */

#ifndef FLOATREPR_H
#define FLOATREPR_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Room float_repr needs: a sign, 17 digits, a point, "e-308" and more to spare */
#define FLOAT_REPR_MAX 32

/* repr(x) of a finite x into out (FLOAT_REPR_MAX bytes, not terminated): its length, or -1
 * with MemoryError. */
int float_repr (double x, char *out);

#endif

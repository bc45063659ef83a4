/* The layers of expand.c's walk: a Layers stack's room, pushes and freeing, and a lazy
 * layer's chain and bytes made when something needs them (expand.h's Layer). Apart from
 * expand.c, whose walk uses them, to keep each file readable whole. */

#include "expand.h"

#include <string.h>

void clear_layers (Layers *ls)
{
  for (Py_ssize_t i = 0; i < ls->n; i++)
    clear_layer (&ls->v[i]);
  ls->n = 0;
}

void free_layers (Layers *ls)
{
  clear_layers (ls);
  PyMem_Free (ls->v);
  ls->v = NULL;
  ls->cap = 0;
}

int layers_room (Layers *ls)
{
  if (ls->n < ls->cap)
    return 1;
  Py_ssize_t cap = ls->cap ? ls->cap * 2 : 32;
  Layer *v = PyMem_Realloc (ls->v, sizeof (Layer) * (size_t) cap);
  if (v == NULL)
  {
    PyErr_NoMemory ();
    return 0;
  }
  ls->v = v;
  ls->cap = cap;
  return 1;
}

int push (Layers *ls, PyObject *chain, PyObject *data, int depth, int inert)
{
  if (chain == NULL || data == NULL || !layers_room (ls))
  {
    Py_XDECREF (chain);
    Py_XDECREF (data);
    return 0;
  }
  ls->v[ls->n++] = (Layer) { .chain = chain, .data = data,
    .b = (const unsigned char *) PyBytes_AS_STRING (data), .n = PyBytes_GET_SIZE (data),
    .path_len = -1, .depth = depth, .inert = inert };
  return 1;
}

/* "json:" + path as a str, made in place: a path is ASCII (jsonwalk.h), for which this is
   the str the UTF-8 decode (with surrogateescape) gives, without the decoder's setup. */
static PyObject *json_step (const char *path, Py_ssize_t path_len)
{
  PyObject *u = PyUnicode_New (5 + path_len, 127);
  if (u != NULL)
  {
    memcpy (PyUnicode_1BYTE_DATA (u), "json:", 5);
    memcpy (PyUnicode_1BYTE_DATA (u) + 5, path, (size_t) path_len);
  }
  return u;
}

PyObject *layer_chain (Ctx *cx, Layer *l)
{
  if (l->chain != NULL)
    return l->chain;
  PyObject *step = l->step != NULL ? Py_NewRef (l->step)
      : l->path_len >= 0 ? json_step (cx->paths + l->path, l->path_len) : NULL;
  if (step == NULL && l->path_len >= 0)
    return NULL;
  if (step == NULL)
    l->chain = Py_NewRef (l->base);
  else
  {
    Py_ssize_t k = PyTuple_GET_SIZE (l->base);
    PyObject *t = PyTuple_New (k + 1);
    if (t == NULL)
    {
      Py_DECREF (step);
      return NULL;
    }
    for (Py_ssize_t i = 0; i < k; i++)
      PyTuple_SET_ITEM (t, i, Py_NewRef (PyTuple_GET_ITEM (l->base, i)));
    PyTuple_SET_ITEM (t, k, step);
    l->chain = t;
  }
  Py_CLEAR (l->base);
  Py_CLEAR (l->step);
  return l->chain;
}

PyObject *layer_data (Layer *l)
{
  if (l->data != NULL)
    return l->data;
  /* b and owner stay: what was read of b (children's d, a leaf's span) stays valid */
  return l->data = PyBytes_FromStringAndSize ((const char *) l->b, l->n);
}


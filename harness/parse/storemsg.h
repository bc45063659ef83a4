/* Drafts (harness/parse/draft.py) and Messages (message.py) from C, for _store.c: their
 * fields' slots, and the Message a draft's row gives back. */

#ifndef STOREMSG_H
#define STOREMSG_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Draft's fields, in its order (checked against its __slots__) */
enum
{
  D_KIND, D_T, D_DIRECTION, D_SOURCE, D_FIRST_SEQ, D_CONN, D_PHASE, D_PROTOCOL, D_HOST, D_IP,
  D_PORT, D_SNI, D_TLS_VERSION, D_CIPHER, D_METHOD, D_URL, D_STATUS, D_HEADERS, D_BODY,
  D_BODY_LEN_WIRE, D_EVENTS, D_REQUEST, D_SDK, D_FRAMES, D_META, D_NOTES, D_KEY, DN
};
extern const char *const DRAFT[DN];

/* Message's fields, in its order (its __slots__) */
enum
{
  M_ID, M_KIND, M_T, M_DIRECTION, M_SOURCE, M_CONN, M_PHASE, M_PROTOCOL, M_HOST, M_IP,
  M_PORT, M_SNI, M_TLS_VERSION, M_CIPHER, M_METHOD, M_URL, M_STATUS, M_HEADERS, M_BODY,
  M_BODY_LEN_WIRE, M_EVENTS, M_REQUEST_ID, M_LINKS, M_SDK, M_FRAMES, M_META, M_NOTES, MN
};
extern const char *const MESSAGE[MN];

/* Where each of a slots class's fields is in an instance, checking the class has exactly
 * these fields (in this order). 0, or -1 with TypeError. */
int slot_offsets (PyTypeObject *cls, const char *const *names, int n, Py_ssize_t *off);

/* The Message (of class cls, slots at moff) that decoding the stored row of the draft
 * values v gives back, with key id k<key>, request id k<req> (req None: none) and kind:
 * for values storejson.c encoded (plain lists, a flat dict) without a surrogate. NULL on
 * error. */
PyObject *make_message (PyTypeObject *cls, const Py_ssize_t *moff, PyObject *const *v,
                        long long key, PyObject *req, PyObject *kind);

#endif

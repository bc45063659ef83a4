/* Drafts (harness/parse/draft.py) and Messages (message.py) from C, for _store.c: Message's
 * fields (Draft's are in draftfields.h), and the Message a draft's row gives back, made anew
 * (make_message) or of the draft itself (become_message). */

#ifndef STOREMSG_H
#define STOREMSG_H

#include "draftfields.h"

/* Message's fields, in its order (its __slots__: _store.c checks them with slot_offsets) */
enum
{
  M_ID, M_KIND, M_T, M_DIRECTION, M_SOURCE, M_CONN, M_PHASE, M_PROTOCOL, M_HOST, M_IP,
  M_PORT, M_SNI, M_TLS_VERSION, M_CIPHER, M_METHOD, M_URL, M_STATUS, M_HEADERS, M_BODY,
  M_BODY_LEN_WIRE, M_EVENTS, M_REQUEST_ID, M_LINKS, M_SDK, M_FRAMES, M_META, M_NOTES, MN
};
extern const char *const MESSAGE[MN];

/* What StoreWriter.add stores as a draft's request_key: the key of its request (a Draft
 * of class draft, its key slot at key_off; a Message of class message that become_message
 * made of a draft, the key its id at id_off, k<key>, names; or anything with a key) when
 * that is >= 0, else None; a new reference, or NULL on error. *small says whether it is an
 * exact int within 64 bits, *x its value then (read once, for the Message's request id
 * too). */
PyObject *request_key (PyTypeObject *draft, Py_ssize_t key_off, PyTypeObject *message,
                       Py_ssize_t id_off, PyObject *request, long long *x, int *small);

/* Whether the draft values v's scalar columns read back from the store as they are (what
 * StoreWriter.message otherwise reads back from the file): a non-zero float t (SQLite
 * keeps a whole REAL as an integer: -0.0 comes back 0.0), a bytes body, ints or None in
 * the INTEGER columns, str or None in the TEXT ones (their affinity converts the rest). */
int scalars_read_back_as_given (PyObject *const *v);

/* The Message (of class cls, slots at moff) that decoding the stored row of the draft
 * values v gives back, with key id k<key>, request id k<req> (req None: none; req_key:
 * req's value, when request_key read it) and kind: for values storejson.c encoded (plain
 * lists, a flat dict) without a surrogate. NULL on error. */
PyObject *make_message (PyTypeObject *cls, const Py_ssize_t *moff, PyObject *const *v,
                        long long key, PyObject *req, const long long *req_key,
                        PyObject *kind);

/* Whether become_message can turn a Draft (class draft, its DN slots at doff) into a
 * Message (class message, MN slots at moff) in place: instances of the two are laid out
 * alike (the same size, the same offsets for their object slots and nothing else: no
 * __dict__, no __weakref__), made and freed alike (GC, object's base, no __del__), and
 * both are heap types (whose instances hold a reference to their class). 1 or 0. */
int same_layout (PyTypeObject *draft, const Py_ssize_t *doff, PyTypeObject *message,
                 const Py_ssize_t *moff);

/* make_message's Message made of the draft d itself (slots at doff, written by the last add,
 * whose values v holds), for a caller that lets go of the draft once it is written: its
 * slots take the Message's values (those it keeps as they are move over) and its class
 * becomes cls (same_layout), so the build makes and frees one object a message, not a
 * Draft and a Message. Its meta is the Message's own unless something but d and v holds
 * it (then a copy, as make_message's); a request made a Message already gives its id again.
 * A new reference to d, or NULL on error (d then unchanged). */
PyObject *become_message (PyObject *d, const Py_ssize_t *doff, PyTypeObject *cls,
                          const Py_ssize_t *moff, PyObject *const *v, long long key,
                          PyObject *req, const long long *req_key, PyObject *kind);

#endif

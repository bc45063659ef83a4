/* Drafts (harness/parse/draft.py) and Messages (message.py) from C, for _store.c: Message's
 * fields (Draft's are in draftfields.h), and the Message a draft's row gives back. */

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
 * of class draft, its key slot at key_off, or anything with a key) when that is >= 0,
 * else None; a new reference, or NULL on error. */
PyObject *request_key (PyTypeObject *draft, Py_ssize_t key_off, PyObject *request);

/* The Message (of class cls, slots at moff) that decoding the stored row of the draft
 * values v gives back, with key id k<key>, request id k<req> (req None: none) and kind:
 * for values storejson.c encoded (plain lists, a flat dict) without a surrogate. NULL on
 * error. */
PyObject *make_message (PyTypeObject *cls, const Py_ssize_t *moff, PyObject *const *v,
                        long long key, PyObject *req, PyObject *kind);

#endif

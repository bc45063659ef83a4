/* The numbering of a store's messages (m<n>: by first_seq, then key) written into its
 * numbering table from C, for _store.c: what StoreWriter.finish otherwise sorts in Python
 * and writes with json.dumps. */

#ifndef STOREORDER_H
#define STOREORDER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

/* The keys 1..count sorted by their first_seq (firsts[key - 1], a list), then key, and
 * written in that order as one JSON array of ints (the text json.dumps writes with
 * separators (",", ":")), insert's one parameter. The list of each key's number (index 0:
 * 0) when numbers, else an empty one; None (nothing written) when a first_seq is not an
 * int within 64 bits or firsts has not count of them (StoreWriter numbers them otherwise);
 * NULL on error. */
PyObject *number (sqlite3 *db, PyObject *firsts, long long count, const char *insert,
                  int numbers);

#endif

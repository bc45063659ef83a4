/* The numbering of a store's messages (m<n>: by first_seq, then key) written into its ord
 * table from C, for _store.c: what StoreWriter.finish otherwise sorts in Python and writes
 * through json_each (~7,000 instructions a message, two thirds of them SQLite's). */

#ifndef STOREORDER_H
#define STOREORDER_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <sqlite3.h>

/* The keys 1..count sorted by their first_seq (firsts[key - 1], a list), then key, and
 * written in that order with insert (one key a run) and insert_rows (several): INSERTs of
 * key alone into ord, whose n (its INTEGER PRIMARY KEY, one more than the largest) is then
 * 1, 2, ... in that order, as long as ord is empty before. The list of each key's number
 * (index 0: 0) when numbers, else an empty one; None (nothing written) when a first_seq is
 * not an int within 64 bits or firsts has not count of them (StoreWriter numbers them
 * otherwise); NULL on error. */
PyObject *number (sqlite3 *db, PyObject *firsts, long long count, const char *insert,
                  const char *insert_rows, int numbers);

#endif

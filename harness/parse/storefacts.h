/* A message's connection facts (source, conn, protocol, ip, port, sni, tls_version, cipher)
 * written into analysis.sqlite's facts table, for _store.c: a row each time they are not
 * what the last message's were (~once a connection), which the message's row names by id
 * (store.py says why). */

#ifndef STOREFACTS_H
#define STOREFACTS_H

#include "draftfields.h"
#include "storerows.h"

/* The draft fields a facts row holds */
#define NF 8

typedef struct
{
  sqlite3_stmt *st; /* the INSERT of a facts row: its id, then the NF facts */
  /* the values of the facts row written last, and its id (new references; NULL: none) */
  PyObject *fact[NF], *id;
  long long count; /* facts rows written */
} Facts;

/* The INSERT prepared on db. 0, or -1 with an exception set (what was prepared is left for
 * facts_close). */
int facts_prepare (Facts *f, sqlite3 *db, const char *insert);

/* The id of the facts row of the draft values v (by draft field; a new reference): the last
 * one written where v's facts bind what it bound (sql_same_binding: a connection's
 * messages, one after another), else a new row's. NULL with an exception set; the rows
 * waiting in r are written first then, so the file holds what it would had the message's
 * row failed. */
PyObject *facts_of (Facts *f, Rows *r, PyObject *const *v);

/* The last row's values let go (the next message writes a row of its own). */
void facts_forget (Facts *f);

/* The INSERT finalized: before the connection closes. */
void facts_close (Facts *f);

int facts_traverse (Facts *f, visitproc visit, void *arg);

#endif

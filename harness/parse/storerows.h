/* A store row's columns written into analysis.sqlite's messages table several rows a
 * statement, for _store.c.
 *
 * Each row is bound into the next slot of an INSERT of several rows (its parameters those
 * of the INSERT of one, again for each), which runs once every slot is bound: SQLite's fixed
 * cost of running a statement (~2,000 instructions on the 20 MB benchmark: VDBE start,
 * transaction checks, the cursor's opening and closing, the halt and reset) is then paid
 * once for them all. A parameter whose
 * value is that of the row the slot held before keeps its binding (sql_bind_kept), and so
 * does a JSON text of that row's bytes (sql_bind_spare). A row SQLite may refuse (NULL in
 * a NOT NULL column) is written alone with the INSERT of one, after the rows waiting, so
 * that its error comes with it and an INSERT of several never fails part way.
 *
 * A row's key (its INTEGER PRIMARY KEY) is bound NULL where it is the one SQLite gives a
 * NULL key, one more than the largest in the table (rows_write says when that is known):
 * SQLite then takes the b-tree's last entry, which the cursor is at after the previous
 * insert, instead of searching the b-tree from its root for the key given (OP_NotExists:
 * an insert clears the cursor's key, so the search never took its shortcut; ~900
 * instructions a row, 5% of add_message on the 20 MB benchmark), and the NULL keeps its
 * binding where a key never does. The same keys in the same order: the same file. */

#ifndef STOREROWS_H
#define STOREROWS_H

#include "storesql.h"

/* The INSERT's parameters a row (its columns), and the key's and the body's (0-based) */
#define NCOL 21
#define C_KEY 0
#define C_BODY 12

/* One row's place in the INSERT of several */
typedef struct
{
  /* what each parameter is bound to (new references), NULL: rebind it. The body and a JSON
   * text of dumps' are only held (bound in place) while the row waits, never compared; a
   * JSON column whose text is in json[] has NULL */
  PyObject *bound[NCOL];
  SqlText json[JN]; /* the JSON columns' texts, where storejson.c writes them */
  long long key; /* the row's key (bound NULL or as it is) */
} Slot;

typedef struct
{
  sqlite3 *db; /* not its own */
  /* the INSERT of one row, and of `rows` rows at once (`pending` of them bound so far) */
  sqlite3_stmt *one, *many;
  int rows, pending;
  Slot *slot;
  /* the key SQLite gives a NULL key after the rows bound so far are written, when known
   * (the table was new, and every row since was written here, in order); 0 once not
   * known: after a statement of them failed (its rows lost), or (the caller sets it) once
   * another statement that writes has run */
  long long next;
} Rows;

/* The two INSERTs prepared (the second's parameters a multiple of the first's, NCOL), into
 * a table just made (empty: its first NULL key is 1). 0, or -1 with an exception set (what
 * was prepared is left for rows_close). */
int rows_prepare (Rows *r, sqlite3 *db, const char *one, const char *many);

/* The buffer JSON column j's text of the next row is to be written into (json_column),
 * when rows_write is to take it from there. */
static inline JBuf *rows_spare (Rows *r, int j)
{
  return sql_text_spare (&r->slot[r->pending].json[j]);
}

/* A row written (or bound, to be written with the rows after it): col its NCOL parameters,
 * bound as the sqlite3 module binds them, each JSON column's NULL where its text is in
 * rows_spare; col[C_KEY] is its key, key (an int: each row's greater than the last's).
 * 0, or -1 with an exception set: a value that does not bind, or SQLite's error of a
 * statement it ran (the rows that were waiting are then lost; the keys after it are bound
 * as they are). */
int rows_write (Rows *r, PyObject *const *col, long long key);


/* The rows bound and not written, written (one by one): before any other SQL runs. 0, or
 * -1 with an exception set (they are lost). */
int rows_flush (Rows *r);

/* The statements finalized and what they held let go (the rows waiting are lost): before
 * the connection closes. */
void rows_close (Rows *r);

/* rows_close, and the buffers and slots freed. */
void rows_free (Rows *r);

int rows_traverse (Rows *r, visitproc visit, void *arg);

#endif

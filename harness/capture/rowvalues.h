/* How rowstream.c (Database.stream) reads a row of capture.sqlite: what type each column may
 * hold, whether a text is ASCII, a row's texts, and where a statement's row keeps its values.
 * Static functions: each is on every row's path and inlined there. */

#ifndef HARNESS_CAPTURE_ROWVALUES_H
#define HARNESS_CAPTURE_ROWVALUES_H

#include <sqlite3.h>
#include <stdint.h>
#include <string.h>

#include "../detect/words.h"

/* The SQLite types (bit 1 << type) that `want` asks of a column: i an INTEGER, f a FLOAT,
 * t a TEXT, b a BLOB, the letter in upper case that or NULL, * anything; none for another
 * letter. Made once a call: a row's eleven columns are each checked with a shift. */
static unsigned fits (char want)
{
  if (want == '*')
    return 1u << SQLITE_INTEGER | 1u << SQLITE_FLOAT | 1u << SQLITE_TEXT | 1u << SQLITE_BLOB
           | 1u << SQLITE_NULL;
  unsigned null = want >= 'A' && want <= 'Z' ? 1u << SQLITE_NULL : 0;
  switch (want | 0x20) /* the letter in lower case (no other byte becomes one of these) */
  {
  case 'i': return 1u << SQLITE_INTEGER | null;
  case 'f': return 1u << SQLITE_FLOAT | null;
  case 't': return 1u << SQLITE_TEXT | null;
  case 'b': return 1u << SQLITE_BLOB | null;
  default: return 0;
  }
}

static int is_ascii (const unsigned char *p, int n)
{
  uint64_t any = 0; /* eight bytes at a time (words.h): a hook's name is ~25 */
  if (n < 8)
  {
    for (int i = 0; i < n; i++)
      any |= p[i];
    return (any & 0x80) == 0;
  }
  for (int i = 0; i < n - 8; i += 8)
    any |= load8 (p + i);
  any |= load8 (p + n - 8);  /* the last eight, over what the loop read: no byte loop */
  return (any & HIGHS) == 0;
}

/* A row's texts, read once: each TEXT column's bytes (NULL for a column of another type). */
typedef struct
{
  const unsigned char *p;
  int n;
} Text;

static int text_is (const Text *t, const char *want, int n)
{
  return t->p != NULL && t->n == n && memcmp (t->p, want, (size_t) n) == 0;
}

/* Where a statement's row keeps its values (row_values()). */
typedef struct
{
  sqlite3_stmt *st;         /* the statement they were learnt on (NULL: none yet) */
  uintptr_t first, last;    /* the first and last column's value there */
  uintptr_t stride;         /* bytes from one column's value to the next's; 0: unknown */
} Layout;

/* Each of the n columns' value of the row st is on into val, as sqlite3_column_value gives
 * them. A call of it costs ~50 instructions (it looks the statement's row up, takes and
 * leaves the mutex, checks for a failed malloc), ~600 a row of twelve columns: SQLite keeps
 * a row's values as one array, at the statement's result registers, the same for each of
 * its rows. So the values of a row whose first and last columns' are where they were on a
 * row whose every column's was seen one stride after the one before are read at those
 * places: two calls a row. Any other row (the first of a statement, one whose values are
 * elsewhere) asks for each value, and its places are learnt again. */
static void row_values (Layout *l, sqlite3_stmt *st, int n, sqlite3_value **val)
{
  uintptr_t first = (uintptr_t) sqlite3_column_value (st, 0);
  if (l->st == st && l->stride != 0 && first == l->first
      && (uintptr_t) sqlite3_column_value (st, n - 1) == l->last)
  {
    for (int i = 0; i < n; i++)
      val[i] = (sqlite3_value *) (first + (uintptr_t) i * l->stride);
    return;
  }
  val[0] = (sqlite3_value *) first;
  for (int i = 1; i < n; i++)
    val[i] = sqlite3_column_value (st, i);
  l->st = st;
  l->first = first;
  l->last = (uintptr_t) val[n - 1];
  l->stride = n > 2 ? (uintptr_t) val[1] - first : 0;  /* two columns: both are called */
  for (int i = 0; i < n && l->stride != 0; i++)
    if ((uintptr_t) val[i] != first + (uintptr_t) i * l->stride)
      l->stride = 0;
}

#endif

/* What the builder stamps on a draft before it is written (builder.Stamps: its host where
 * it names none, the scenario phase its time falls in), in C for _store.c's put, which runs
 * stamps.put_drafts's loop (the reference: tests/parse/test_put.py compares the two). */

#ifndef DRAFTSTAMP_H
#define DRAFTSTAMP_H

#include "draftfields.h"

typedef struct
{
  PyObject *at, *gap, *name; /* PhaseClock.at, PhaseClock.gap, DnsNames.name */
  PyObject *phase, *lo, *hi; /* the phase last asked and its gap (PhaseClock.gap) */
  PyObject *peer_host;
} Stamper;

/* The stamper of a put: stamps' callables and state (new references), and peer_host (the
 * name a Java TLS socket connected to, or None). 0, or -1 with an exception (s then holds
 * nothing). */
int stamper_open (Stamper *s, PyObject *stamps, PyObject *peer_host);

/* Write the phase and its gap back to stamps (for the next put) unless stamps is NULL, and
 * let go of what s holds. 0, or -1 with an exception. */
int stamper_close (Stamper *s, PyObject *stamps);

/* Stamp the Draft d (slots at doff) as stamps.put_drafts does: a host that is not true
 * becomes d.sni or the peer host or DnsNames.name(d.ip, d.t), the first of them that is
 * true (the name's answer whatever it is); the phase that of d.t, asked of PhaseClock.at
 * only where d.t is outside the gap of the last time asked. 0, or -1 with an exception. */
int stamp (Stamper *s, PyObject *d, const Py_ssize_t *doff);

#endif

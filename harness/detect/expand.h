/* One message's decoding in C, shared by its three parts: the walk over a message's layers
 * (expand.c: Decoder.expand, the budget, the scan of each layer), one layer's children
 * (children.c: Decoder._children and _decode; form.c: _form) and what the findings loop
 * makes of the layers that matched (found.c: findings.find's loop over the matches). */

#ifndef EGRESS_EXPAND_H
#define EGRESS_EXPAND_H

#include "jsonwalk.h"
#include "scanner.h"

#define FALLBACK_MSG 5 /* the Python decoder must run */
#define BARE_SLOTS 256  /* a power of two */

/* One layer of the walk. Most layers are never reported and open no decoder (a JSON leaf
   that is a span of its parent's bytes which no hit overlaps is not even scanned), so a
   layer's chain and bytes are Python objects only once something needs them (layer_chain,
   layer_data): until then the chain is base extended by one step (a str, or the JSON path
   "json:" + paths[path, path + path_len) of the walk's arena, or none), and the bytes are
   b[0, n) inside owner's. */
typedef struct {
  PyObject *chain; /* tuple of str; NULL until layer_chain makes it */
  PyObject *data;  /* bytes; NULL until layer_data makes it */
  const unsigned char *b; /* the bytes, always: a span of owner's, or data's */
  Py_ssize_t n;
  PyObject *base;  /* while chain is NULL: the tuple it extends */
  PyObject *step;  /* while chain is NULL: its last step; NULL: the path below, or none */
  PyObject *owner; /* the bytes object b points into when it is not data (NULL: data) */
  Py_ssize_t path, path_len; /* the JSON path's bytes in the Ctx's paths; path_len -1: none */
  int depth;
  int inert;
  int clean; /* known to match nothing: not scanned (see add_leaf) */
} Layer;

typedef struct {
  Layer *v;
  Py_ssize_t n;
  Py_ssize_t cap;
} Layers;

/* A layer that matched: its matches are either hits[first, first + n) of the walk's Scanner,
   or the list a scan called in Python returned (matches). */
typedef struct {
  PyObject *chain, *data, *matches;
  Py_ssize_t first, n;
} Matched;

typedef struct {
  PyObject *scan, *protobuf, *transform;
  Scanner *scanner; /* scan's own Scanner, run without a Python call; or NULL */
  Py_ssize_t max_depth, max_layers, max_bytes, min_leaf;
  Py_ssize_t layers, bytes; /* the budget spent */
  /* what the layers json_barren let go unread may have spent of it, at most (barren.c):
     the budget's limits are tested with both, a message that could reach one handed back */
  Py_ssize_t unread_layers, unread_bytes;
  unsigned char *scratch;   /* base64 decoded before it is known to be kept */
  Py_ssize_t scratch_cap;
  Matched *matched; /* the layers that matched, in scan order */
  Py_ssize_t matched_n, matched_cap;
  Hit *hits; /* the Scanner's hits of those layers */
  Py_ssize_t hits_n, hits_cap;
  Layers stack, kids; /* walk_root's, kept for the message's next root (empty between) */
  char *paths; /* the message's lazy layers' JSON paths (Layer.path), until walk_reset */
  Py_ssize_t paths_n, paths_cap;
  int called;   /* a decoder hook in Python ran (children.c): the walk_roots memo's */
  PyObject *bare[BARE_SLOTS]; /* root bytes walked to nothing, by address (walk_roots) */
} Ctx;

/* Takes the references of chain and data (also on failure). 0 with an exception set. */
int push (Layers *ls, PyObject *chain, PyObject *data, int depth, int inert);
/* Room for one more layer at ls->v[ls->n] (the caller fills it and counts it). 0 with
   MemoryError. */
int layers_room (Layers *ls);
void clear_layers (Layers *ls);
/* clear_layers, then the array freed. */
void free_layers (Layers *ls);

/* One layer's references dropped (layers.c, expand.c). */
static inline void clear_layer (Layer *l)
{
  Py_CLEAR (l->chain);
  Py_CLEAR (l->data);
  Py_CLEAR (l->base);
  Py_CLEAR (l->step);
  Py_CLEAR (l->owner);
}

/* l's chain (a borrowed tuple) and bytes (a borrowed bytes object), made when l has none
   yet. NULL with an exception set. */
PyObject *layer_chain (Ctx *cx, Layer *l);
PyObject *layer_data (Layer *l);

/* The children of one layer into out (in Decoder._children's order). OK, FALLBACK_MSG or
   ERROR. hits: the Scanner's hits in the layer's bytes (NULL when scan is not the
   Scanner's own); hot: the distinct pattern bytes the layer matched (the JSON walk's
   filter). */
int children (Ctx *cx, Layer *l, const Hits *hits, const Span *hot,
    Py_ssize_t hot_count, Layers *out);

/* The children of a form (s[0, n), which form_whole takes) into out, under chain: decoders'
   Decoder._form in C (form.c). 0 with an exception. */
int form_children (const unsigned char *s, Py_ssize_t n, PyObject *chain, Layers *out,
    int depth);

/* Java's String.hashCode of a str (its UTF-16 code units, a lone surrogate being one),
   unsigned: decoders.java_hash and the Sensors crc (form.c). */
uint32_t java_hash_of (PyObject *s);

/* cx's scratch buffer, of at least size bytes (valid until the next call); NULL with
   MemoryError. */
unsigned char *walk_scratch (Ctx *cx, Py_ssize_t size);

/* s[0, n) base64-decoded (b64.h) into cx's scratch (valid until its next use), its size in
   *size. NULL: not base64 (*size -1), or no memory (*size >= 0, MemoryError set). */
unsigned char *walk_b64 (Ctx *cx, const unsigned char *s, Py_ssize_t n, Py_ssize_t *size);

/* Appends path[0, path_len) to cx's paths (a lazy layer's JSON path): its offset there, or -1
   with MemoryError. */
Py_ssize_t walk_path (Ctx *cx, const char *path, Py_ssize_t path_len);

/* Reads hooks (see expand.c) into cx: 0 with an exception set. */
int walk_init (Ctx *cx, PyObject *hooks);

/* A message's roots as roots.c makes them for the walk, without a (chain, bytes) tuple for
   each or a list of them: each root's chain is (label, step), or (label,) where step is NULL
   (the body), and its bytes data; the references are held (roots_clear). */
typedef struct {
  PyObject *step, *data;
} Root;

typedef struct {
  PyObject *label;
  Root *v;
  Py_ssize_t n, cap;
} Roots;

/* Walks every root of a message (a list of (chain, bytes)), recording in cx the layers that
   matched. OK, FALLBACK_MSG or ERROR. walk_reset after, whatever it returned, before the
   next message's walk with cx; walk_free after the last. */
int walk_message (Ctx *cx, PyObject *roots);

/* walk_message over roots made in C. */
int walk_roots (Ctx *cx, const Roots *roots);

/* cx as walk_init left it, but for its buffers' room, kept for the next message (the batch
   loop's 245,000 messages each made and freed a dozen of them). */
void walk_reset (Ctx *cx);
void walk_free (Ctx *cx);

/* Whether the JSON branch of children() may skip the layer d[0, n) (barren.c: it matched
   nothing, and nothing in it can open a decoder): 1 (with the most strings its document can
   have in *strings), 0, or -1 with MemoryError. */
int json_barren (Ctx *cx, const unsigned char *d, Py_ssize_t n, Py_ssize_t *strings);

int detect_spans (PyObject *hot, Span **out, Py_ssize_t *count);
PyObject *detect_barren (PyObject *self, PyObject *args);
PyObject *detect_expand (PyObject *self, PyObject *args);
PyObject *detect_find (PyObject *self, PyObject *args);

#endif

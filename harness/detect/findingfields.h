/* A Finding's fields (harness/detect/finding.py, a slots dataclass), in its order: F_<NAME>
 * indexes them, FINDING names them; findings.json's writer and the numbering read them at
 * the offsets slot_offset finds for these names. */
#ifndef FINDINGFIELDS_H
#define FINDINGFIELDS_H

#define FINDING_FIELDS(X)                                                                    \
  X (ID, id) X (NEEDLE, needle) X (CLS, cls) X (HOST, host) X (PHASE, phase)                 \
  X (MESSAGE, message) X (CHAIN, chain) X (EXCERPT, excerpt) X (CONTROL, control) X (T, t)

#define F_INDEX(index, name) F_##index,
#define F_NAME(index, name) #name,
enum { FINDING_FIELDS (F_INDEX) FN };
/* a static const in a header: no unused warning where a file does not use it */
static const char *const FINDING[FN] = { FINDING_FIELDS (F_NAME) };
#undef F_INDEX
#undef F_NAME

#endif

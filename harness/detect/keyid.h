/* The key in a stream key id, "k" and the key's decimal digits (store.key_id: the ids
 * harness analyze hands the detector before numbering), for the C that reads them:
 * numbering.c reads any digits, as Python's int(id[1:]) does; ids.c only the form key_id
 * writes (no leading zero), where equal keys must mean equal strs. The same for a store id
 * ("m" and its number), which the classifier's sdks.c reads.
 *
 * Header only, static inline (three extensions include it). */

#ifndef KEYID_H
#define KEYID_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* id is an exact ASCII str, prefix then 1 to 18 digits (without a leading zero when
 * canonical): 1 with *num, else 0. Also the classifier's reader of store ids ("m<n>", the
 * form numbering.c's tagged writes), where equal numbers must mean equal strs */
static inline int prefixed_number (PyObject *id, char prefix, int canonical, Py_ssize_t *num)
{
  if (!PyUnicode_CheckExact (id) || !PyUnicode_IS_ASCII (id))
    return 0;
  Py_ssize_t n = PyUnicode_GET_LENGTH (id), at = 0;
  const char *s = PyUnicode_DATA (id);
  if (n < 2 || n > 19 || s[0] != prefix || (canonical && s[1] == '0' && n > 2))
    return 0;
  for (Py_ssize_t i = 1; i < n; i++)
  {
    if (s[i] < '0' || s[i] > '9')
      return 0;
    at = at * 10 + (s[i] - '0');
  }
  *num = at;
  return 1;
}

/* id is "k" and 1 to 18 digits (without a leading zero when canonical): 1 with *key */
static inline int key_id_key (PyObject *id, int canonical, Py_ssize_t *key)
{
  return prefixed_number (id, 'k', canonical, key);
}

#endif

/* Argument checks shared by the addon's functions. */
#ifndef ARI_NAPI_ARGS_H
#define ARI_NAPI_ARGS_H
#include <node_api.h>

/* Throws a TypeError with `msg` and returns from the calling N-API function. */
#define FAIL(msg)                               \
  do {                                          \
    napi_throw_type_error(env, NULL, msg);      \
    return NULL;                                \
  } while (0)

/* `v` is a typed array of type `want` and exactly `len` elements (napi_get_typedarray_info refuses anything else). */
static inline int typed(napi_env env, napi_value v, napi_typedarray_type want, size_t len, void **data) {
  napi_typedarray_type type;
  size_t length;
  if (napi_get_typedarray_info(env, v, &type, &length, data, NULL, NULL) != napi_ok) return 0;
  return type == want && length == len;
}

#endif

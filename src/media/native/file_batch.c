/*
 * The WAV writers' disk writes of one worker tick in ONE job of libuv's thread pool (src/audio/wav-write-batch.ts):
 * the data chunks and header patches of every recording that flushed, instead of one pool job, one completion
 * callback and a promise chain per write. A worker has one batch in flight at a time, so a file's writes keep their
 * order across batches; inside a batch they run in the order given.
 */
#include "file_batch.h"
#include "napi_args.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  int fd;
  int32_t len; /* ≥ 0: write len bytes at pos; −1: truncate to pos */
  int64_t pos;
  const uint8_t *data;
} file_op_t;

typedef struct {
  napi_async_work work;
  napi_ref keep; /* [buffers, results, done]: alive until the completion */
  file_op_t *ops;
  uint32_t n;
  int32_t *results;
} file_batch_t;

static int run_op(const file_op_t *op) {
  if (op->len < 0) return ftruncate(op->fd, op->pos) == 0 ? 0 : errno;
  int32_t off = 0;
  while (off < op->len) {
    const ssize_t w = pwrite(op->fd, op->data + off, (size_t)(op->len - off), op->pos + off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (w == 0) return EIO;
    off += (int32_t)w;
  }
  return 0;
}

/* Thread pool: no JS here. An op on a file whose earlier op failed in this batch is not run (it gets that error). */
static void execute(napi_env env, void *data) {
  file_batch_t *b = data;
  for (uint32_t i = 0; i < b->n; i++) {
    int err = 0;
    for (uint32_t k = 0; k < i && !err; k++)
      if (b->results[k] && b->ops[k].fd == b->ops[i].fd) err = b->results[k];
    b->results[i] = err ? err : run_op(&b->ops[i]);
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  file_batch_t *b = data;
  napi_value keep, done, global;
  if (status != napi_ok)
    for (uint32_t i = 0; i < b->n; i++) b->results[i] = b->results[i] ? b->results[i] : ECANCELED;
  if (napi_get_reference_value(env, b->keep, &keep) == napi_ok && napi_get_element(env, keep, 2, &done) == napi_ok &&
      napi_get_global(env, &global) == napi_ok)
    napi_call_function(env, global, done, 0, NULL, NULL); /* a throw surfaces as the thread's uncaught exception */
  napi_delete_reference(env, b->keep);
  napi_delete_async_work(env, b->work);
  free(b->ops);
  free(b);
}

/* writeBatch(fds: Int32Array, positions: Float64Array, lengths: Int32Array, buffers: (Uint8Array|null)[], count,
 *            results: Int32Array, done: () => void): results[i] = 0 or the errno; done() runs on this thread after. */
napi_value js_write_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t *fds, *lens, *results;
  double *pos;
  uint32_t count = 0;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7 || napi_get_value_uint32(env, argv[4], &count) != napi_ok ||
      !typed(env, argv[0], napi_int32_array, count, (void **)&fds) || !typed(env, argv[1], napi_float64_array, count, (void **)&pos) ||
      !typed(env, argv[2], napi_int32_array, count, (void **)&lens) || !typed(env, argv[5], napi_int32_array, count, (void **)&results) ||
      napi_typeof(env, argv[6], &t) != napi_ok || t != napi_function)
    FAIL("writeBatch(fds: Int32Array, positions: Float64Array, lengths: Int32Array, buffers, count, results: Int32Array, done)");
  file_batch_t *b = calloc(1, sizeof *b);
  file_op_t *ops = calloc(count ? count : 1, sizeof *ops);
  if (!b || !ops) {
    free(b);
    free(ops);
    napi_throw_error(env, "ENOMEM", "writeBatch: out of memory");
    return NULL;
  }
  b->ops = ops;
  b->n = count;
  b->results = results;
  for (uint32_t i = 0; i < count; i++) {
    napi_value buf;
    void *data = NULL;
    size_t bytes = 0;
    napi_typedarray_type type;
    ops[i].fd = fds[i];
    ops[i].len = lens[i];
    ops[i].pos = (int64_t)pos[i];
    results[i] = 0;
    const int ok = fds[i] >= 0 && pos[i] >= 0 && pos[i] <= 9007199254740991.0 && lens[i] >= -1 &&
                   (lens[i] < 0 || (napi_get_element(env, argv[3], i, &buf) == napi_ok &&
                                    napi_get_typedarray_info(env, buf, &type, &bytes, &data, NULL, NULL) == napi_ok && type == napi_uint8_array &&
                                    (size_t)lens[i] <= bytes));
    if (!ok) {
      free(ops);
      free(b);
      FAIL("writeBatch: op with a bad fd, position, length or buffer (a Uint8Array holding the length)");
    }
    ops[i].data = data;
  }
  napi_value keep, name;
  if (napi_create_array_with_length(env, 3, &keep) != napi_ok || napi_set_element(env, keep, 0, argv[3]) != napi_ok ||
      napi_set_element(env, keep, 1, argv[5]) != napi_ok || napi_set_element(env, keep, 2, argv[6]) != napi_ok ||
      napi_create_reference(env, keep, 1, &b->keep) != napi_ok || napi_create_string_utf8(env, "ari:writeBatch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, execute, complete, b, &b->work) != napi_ok) {
    if (b->keep) napi_delete_reference(env, b->keep);
    free(ops);
    free(b);
    napi_throw_error(env, NULL, "writeBatch: cannot queue the work");
    return NULL;
  }
  if (napi_queue_async_work(env, b->work) != napi_ok) {
    napi_delete_async_work(env, b->work);
    napi_delete_reference(env, b->keep);
    free(ops);
    free(b);
    napi_throw_error(env, NULL, "writeBatch: cannot queue the work");
    return NULL;
  }
  return NULL;
}

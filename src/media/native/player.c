/*
 * The slot player: one call per worker tick plays the due slot of every two-party recording registered here — takes
 * each stream's frame from its block (JitterBuffer.take), mixes the two, decimates and saturates its 160 samples
 * straight into the recording's WAV buffer (dsp.c) — instead of one JS take per stream, one DSP call and one copy per
 * recording. What it writes is what the JS path writes (test/unit/mixer/slot-batch.test.ts compares the files byte
 * for byte).
 *
 * Registrations are per thread (each worker has its own), hold references to the JS memory they point into, and are
 * released by playerRemove or with the worker's environment.
 */
#include "player.h"
#include "dsp.h"
#include "napi_args.h"
#include "stream.h"
#include <stdlib.h>
#include <string.h>

#define HISTORY 66
#define BLOCK 320
#define OUT 160
#define JOB 3 /* Int32 per playerRun job */

typedef struct {
  int used;
  double *hist;
  int16_t *out; /* where the slots go (the WAV writer's buffer), `out_len` samples; set by playerSetOut */
  size_t out_len;
  double *blk[2];
  double blk_shape[2];
  int64_t cap[2]; /* each block's ring size and frame size, to prefetch without reading the block */
  size_t frame[2];
  napi_ref refs[4]; /* state, blockA, blockB, out */
} player_t;

static _Thread_local player_t *players;
static _Thread_local int nplayers;

static void release(napi_env env, player_t *p) {
  for (int k = 0; k < 4; k++)
    if (p->refs[k] && env) napi_delete_reference(env, p->refs[k]);
  memset(p, 0, sizeof *p);
}

void players_release_all(void) {
  free(players); /* the environment is going away: its references go with it */
  players = NULL;
  nplayers = 0;
}

/* playerAdd(state: Float64Array(386), blockA: ArrayBuffer, blockB: ArrayBuffer) -> handle (its output: playerSetOut) */
napi_value js_player_add(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  player_t p;
  memset(&p, 0, sizeof p);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3) FAIL("playerAdd(state, blockA, blockB)");
  if (!typed(env, argv[0], napi_float64_array, HISTORY + BLOCK, (void **)&p.hist)) FAIL("playerAdd: state must be a Float64Array(386)");
  for (int k = 0; k < 2; k++) {
    void *data = NULL;
    size_t bytes = 0;
    if (napi_get_arraybuffer_info(env, argv[1 + k], &data, &bytes) != napi_ok || (p.blk_shape[k] = stream_block_shape((double *)data, bytes)) == 0 ||
        ((double *)data)[S_samplesPerFrame] != BLOCK)
      FAIL("playerAdd: blockA and blockB must be stream blocks of 320-sample frames");
    p.blk[k] = (double *)data;
    p.cap[k] = (int64_t)p.blk[k][S_capacity];
    p.frame[k] = (size_t)p.blk[k][S_samplesPerFrame];
  }
  int h = -1;
  for (int i = 0; i < nplayers; i++)
    if (!players[i].used) {
      h = i;
      break;
    }
  if (h < 0) {
    player_t *grown = realloc(players, sizeof(player_t) * (size_t)(nplayers + 1));
    if (!grown) {
      napi_throw_error(env, "ENOMEM", "playerAdd: out of memory");
      return NULL;
    }
    players = grown;
    h = nplayers++;
  }
  for (int k = 0; k < 3; k++) {
    if (napi_create_reference(env, argv[k], 1, &p.refs[k]) != napi_ok) {
      release(env, &p);
      napi_throw_error(env, NULL, "playerAdd: cannot keep a reference");
      return NULL;
    }
  }
  p.used = 1;
  players[h] = p;
  napi_value out;
  napi_create_int32(env, h, &out);
  return out;
}

/* playerRemove(handle) */
napi_value js_player_remove(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t h = -1;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && argc >= 1 && napi_get_value_int32(env, argv[0], &h) == napi_ok && h >= 0 &&
      h < nplayers && players[h].used)
    release(env, &players[h]);
  return NULL;
}

/* playerSetOut(handle, out: Int16Array): the array the handle's slots are written into from now on, at the index
 * each job gives (the WAV writer's buffer, which changes when a full one goes to the disk). */
napi_value js_player_set_out(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t h = -1;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_get_value_int32(env, argv[0], &h) != napi_ok)
    FAIL("playerSetOut(handle, out)");
  if (h < 0 || h >= nplayers || !players[h].used) {
    napi_throw_error(env, NULL, "playerSetOut: unknown handle");
    return NULL;
  }
  if (napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_int16_array || len < OUT)
    FAIL("playerSetOut: out must be an Int16Array of at least 160 samples");
  player_t *p = &players[h];
  napi_ref ref;
  if (napi_create_reference(env, argv[1], 1, &ref) != napi_ok) {
    napi_throw_error(env, NULL, "playerSetOut: cannot keep a reference");
    return NULL;
  }
  if (p->refs[3]) napi_delete_reference(env, p->refs[3]);
  p->refs[3] = ref;
  p->out = data;
  p->out_len = len;
  return NULL;
}

/* Asks for the lines the next job will read (each recording's data is cold by the next tick): they arrive while this
 * job filters. Addresses come from the registration, never from the cold block itself. */
static void prefetch(const player_t *p, int32_t slot, int32_t at) {
  for (int k = 0; k < 2; k++) {
    const double *f = p->blk[k];
    if (slot < 0) return;
    __builtin_prefetch(f, 1); /* line 0: capacity, samplesPerFrame, nextSlot (stream.h) */
    const char *e = (const char *)stream_entry((double *)f, (size_t)(slot % p->cap[k]), p->frame[k]); /* tags, then the samples */
    for (size_t b = 0; b < 16 + p->frame[k] * sizeof(int16_t); b += 64) __builtin_prefetch(e + b, 1);
  }
  for (size_t b = 0; b < HISTORY * sizeof(double); b += 64) __builtin_prefetch((const char *)p->hist + b, 1);
  for (size_t b = 0; b < OUT * sizeof(int16_t); b += 64) __builtin_prefetch((const char *)(p->out + at) + b, 1); /* `at` checked by playerRun */
}

/* playerRun(jobs: Int32Array [handle, slot, index]…, count, ss: Float64Array): plays slot `slot` of each job's
 * recording into its out at `index` (160 samples); ss[j] = Σ out². Every job is checked before any is played. */
napi_value js_player_run(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t *jobs;
  double *ss;
  uint32_t count = 0;
  napi_typedarray_type type;
  size_t njobs = 0, nss = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_get_typedarray_info(env, argv[0], &type, &njobs, (void **)&jobs, NULL, NULL) != napi_ok || type != napi_int32_array ||
      napi_get_value_uint32(env, argv[1], &count) != napi_ok ||
      napi_get_typedarray_info(env, argv[2], &type, &nss, (void **)&ss, NULL, NULL) != napi_ok || type != napi_float64_array)
    FAIL("playerRun(jobs: Int32Array, count, ss: Float64Array)");
  if ((size_t)count * JOB > njobs || count > nss) {
    napi_throw_range_error(env, NULL, "playerRun: count exceeds jobs or ss");
    return NULL;
  }
  for (uint32_t j = 0; j < count; j++) {
    const int32_t h = jobs[JOB * j], at = jobs[JOB * j + 2];
    if (h < 0 || h >= nplayers || !players[h].used) {
      napi_throw_error(env, NULL, "playerRun: unknown handle");
      return NULL;
    }
    if (!players[h].out || at < 0 || (size_t)at + OUT > players[h].out_len) {
      napi_throw_range_error(env, NULL, "playerRun: a job's index is outside its out");
      return NULL;
    }
  }
  for (uint32_t j = 0; j < count; j++) {
    const int32_t *job = jobs + JOB * j;
    if (j + 1 < count) prefetch(&players[job[JOB]], job[JOB + 1], job[JOB + 2]);
    player_t *p = &players[job[0]];
    const double slot = job[1];
    const int16_t *a = stream_take(p->blk[0], p->blk_shape[0], slot);
    const int16_t *b = stream_take(p->blk[1], p->blk_shape[1], slot);
    ss[j] = dsp_mix_filter(p->hist, a, b, p->out + job[2]); /* the JS mix and filter, fused */
  }
  return NULL;
}

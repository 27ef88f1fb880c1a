/*
 * The slot player: one call per worker tick plays the due slot of every two-party recording registered here — takes
 * each stream's frame from its block (JitterBuffer.take), mixes the two, decimates and saturates its 160 samples
 * straight into the recording's WAV buffer (dsp.c) — and does the slot's bookkeeping in the recording's slot state
 * (src/mixer/slot-state.ts): the timeline, the WAV buffer's cursor, the flush phase, the silence count and the media
 * timeout's bound. JS sees only the events (a flush, a silence, a possible media timeout, a slot it must play itself).
 * What it writes is what the JS path writes (test/unit/mixer/slot-batch.test.ts compares the files byte for byte).
 *
 * Registrations are per thread (each worker has its own), hold references to the JS memory they point into, and are
 * released by playerRemove or with the worker's environment.
 */
#include "player.h"
#include "dsp.h"
#include "napi_args.h"
#include "stream.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_MS 20.0

/* The slot state's indices: slot-state.ts's SLOT. */
enum {
  SL_next = 0, SL_end = 1, SL_start = 2, SL_delay = 3, SL_flush_every = 4, SL_flush_phase = 5, SL_last_due = 6, SL_backlogged = 7,
  SL_sil_threshold = 8, SL_sil_timeout = 9, SL_sil_total = 10, SL_sil_silent = 11, SL_sil_run = 12, SL_sil_reported = 13,
  SL_media_timeout = 14, SL_media_bound = 15, SL_buffered = 16, SL_limit = 17, SL_media_reported = 18, SL_DOUBLES = 24
};
/* A recording's events after a tick: slot-state.ts's SlotEvent. */
enum { EV_PLAY_JS = 1, EV_FLUSH = 2, EV_SILENCE = 4, EV_MEDIA = 8 };

typedef struct {
  int used;
  int live_at; /* its place in `live` */
  double *state; /* SL_DOUBLES */
  double *hist;
  int16_t *out; /* where the slots go (the WAV writer's buffer), `out_len` samples; set by playerSetOut */
  size_t out_len;
  double *blk[2];
  double blk_shape[2];
  int64_t cap[2]; /* each block's ring size and frame size, to prefetch without reading the block */
  size_t frame[2];
  napi_ref refs[5]; /* state, hist, blockA, blockB, out */
} player_t;

static _Thread_local player_t *players;
static _Thread_local int nplayers;
/* The handles in use, packed (a tick walks these, not the free ones); `live_cap` allocated. */
static _Thread_local int *live;
static _Thread_local int nlive, live_cap;

static void release(napi_env env, player_t *p) {
  for (int k = 0; k < 5; k++)
    if (p->refs[k] && env) napi_delete_reference(env, p->refs[k]);
  memset(p, 0, sizeof *p);
}

void players_release_all(void) {
  free(players); /* the environment is going away: its references go with it */
  free(live);
  players = NULL;
  live = NULL;
  nplayers = nlive = live_cap = 0;
}

/* playerAdd(slotState: Float64Array(24), hist: Float64Array(386), blockA: ArrayBuffer, blockB: ArrayBuffer) -> handle
 * (its output: playerSetOut) */
napi_value js_player_add(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  player_t p;
  memset(&p, 0, sizeof p);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) FAIL("playerAdd(slotState, hist, blockA, blockB)");
  if (!typed(env, argv[0], napi_float64_array, SL_DOUBLES, (void **)&p.state)) FAIL("playerAdd: slotState must be a Float64Array(24)");
  if (!typed(env, argv[1], napi_float64_array, DSP_HISTORY + DSP_BLOCK, (void **)&p.hist)) FAIL("playerAdd: hist must be a Float64Array(386)");
  for (int k = 0; k < 2; k++) {
    void *data = NULL;
    size_t bytes = 0;
    if (napi_get_arraybuffer_info(env, argv[2 + k], &data, &bytes) != napi_ok || (p.blk_shape[k] = stream_block_shape((double *)data, bytes)) == 0 ||
        ((double *)data)[S_samplesPerFrame] != DSP_BLOCK)
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
  if (nlive == live_cap) {
    int *grown = realloc(live, sizeof(int) * (size_t)(live_cap + 64));
    if (!grown) {
      napi_throw_error(env, "ENOMEM", "playerAdd: out of memory");
      return NULL;
    }
    live = grown;
    live_cap += 64;
  }
  if (h < 0) {
    player_t *grown = realloc(players, sizeof(player_t) * (size_t)(nplayers + 1));
    if (!grown) {
      napi_throw_error(env, "ENOMEM", "playerAdd: out of memory");
      return NULL;
    }
    players = grown;
    h = nplayers++;
    memset(&players[h], 0, sizeof *players); /* unused until registered below (a failed reference leaves it so) */
  }
  for (int k = 0; k < 4; k++) {
    if (napi_create_reference(env, argv[k], 1, &p.refs[k]) != napi_ok) {
      release(env, &p);
      napi_throw_error(env, NULL, "playerAdd: cannot keep a reference");
      return NULL;
    }
  }
  p.used = 1;
  p.live_at = nlive;
  live[nlive++] = h;
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
      h < nplayers && players[h].used) {
    const int at = players[h].live_at, last = live[--nlive];
    live[at] = last;
    players[last].live_at = at;
    release(env, &players[h]);
  }
  return NULL;
}

/* playerSetOut(handle, out: Int16Array): the array the handle's slots are written into from now on, at the cursor of
 * its slot state (the WAV writer's buffer, which changes when a full one goes to the disk). */
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
  if (napi_get_typedarray_info(env, argv[1], &type, &len, &data, NULL, NULL) != napi_ok || type != napi_int16_array || len < DSP_OUT)
    FAIL("playerSetOut: out must be an Int16Array of at least 160 samples");
  player_t *p = &players[h];
  napi_ref ref;
  if (napi_create_reference(env, argv[1], 1, &ref) != napi_ok) {
    napi_throw_error(env, NULL, "playerSetOut: cannot keep a reference");
    return NULL;
  }
  if (p->refs[4]) napi_delete_reference(env, p->refs[4]);
  p->refs[4] = ref;
  p->out = data;
  p->out_len = len;
  return NULL;
}

/* A slot's 160 samples fit the output at the cursor `buffered` (bytes; JS memory, so anything: checked as a double
 * before it becomes an index). */
static inline int cursor_fits(const player_t *p, double buffered) {
  return buffered >= 0 && buffered + 2 * DSP_OUT <= 2.0 * (double)p->out_len;
}

/* The slots before this one are due at `now` (RecordingPipeline.dueLimit, before the end is applied). */
static inline double due_limit(const double *s, double now) { return floor((now - s[SL_start] - s[SL_delay]) / FRAME_MS); }

/* The lines of the recording after next: its slot state, which says where the next one's other lines are. */
static void prefetch_state(const player_t *p) {
  for (int b = 0; b < SL_DOUBLES; b += 8) __builtin_prefetch(p->state + b, 1);
}

/* Asks for the lines the next recording's slot will read (each recording's data is cold by the next tick): they arrive
 * while this one filters. Its state was asked for a recording earlier; the block addresses come from the registration. */
static void prefetch_slot(const player_t *p, double now) {
  const double slot = p->state[SL_next], buffered = p->state[SL_buffered];
  if (!(slot >= 0) || !cursor_fits(p, buffered)) return;
  /* the output of every slot due this tick (a 100 ms tick: five, 1 600 bytes in a row of a buffer no cache holds) */
  double due = due_limit(p->state, now) - slot;
  if (!(due >= 1)) due = 1;
  if (due > 8) due = 8;
  const double room = 2.0 * (double)p->out_len - buffered;
  double bytes = due * 2 * DSP_OUT;
  if (bytes > room) bytes = room;
  for (int k = 0; k < 2; k++) {
    __builtin_prefetch(p->blk[k], 1); /* line 0: capacity, samplesPerFrame, nextSlot (stream.h) */
    const char *e = (const char *)stream_entry(p->blk[k], (size_t)((int64_t)slot % p->cap[k]), p->frame[k]); /* tags, then the samples */
    for (size_t b = 0; b < 16 + p->frame[k] * sizeof(int16_t); b += 64) __builtin_prefetch(e + b, 1);
  }
  for (size_t b = 0; b < DSP_HISTORY * sizeof(double); b += 64) __builtin_prefetch((const char *)p->hist + b, 1);
  const char *o = (const char *)(p->out + (size_t)buffered / 2);
  for (size_t b = 0; b < (size_t)bytes; b += 64) __builtin_prefetch(o + b, 1);
}

/* One recording's tick, as RecordingPipeline.tick with each slot's bookkeeping (playSlot, endSlotWrite,
 * checkMediaTimeout's first comparison): plays the slots due at `now` while they fit the buffer, and returns the
 * events JS must handle (EV_*). A slot with an event other than a flush ends the run: JS handles it, then tick() plays
 * what is left (EV_PLAY_JS), in the order the JS path would. `*played` counts the slots. */
static int tick_one(player_t *p, double now, uint32_t *played) {
  double *s = p->state;
  double limit = due_limit(s, now);
  if (limit > s[SL_end]) limit = s[SL_end];
  /* A writer behind on the disk gets only the slots that fell due since the last tick (recording-pipeline.ts's
   * CATCH_UP_MAX_BACKLOG): a catch-up must not outrun the disk into its stalled-disk limit. tick() reads the same
   * lastDue, so what is played here counts against the tick's share there too. */
  const double last = s[SL_last_due];
  s[SL_last_due] = limit;
  if (s[SL_backlogged] == 1) {
    const double share = limit > last ? limit - last : 0; /* (a NaN from JS memory: nothing) */
    if (limit > s[SL_next] + share) limit = s[SL_next] + share;
  }
  int ev = 0;
  while (s[SL_next] < limit) {
    const double slot = s[SL_next], buffered = s[SL_buffered];
    /* A flush due does not end the run while the buffer holds the next slot (the worker's buffers hold a tick more than
     * a flush period): JS flushes all that is buffered after the tick, the bytes in the file are the same. */
    if ((ev & ~EV_FLUSH) || !cursor_fits(p, buffered) || buffered + 2 * DSP_OUT > s[SL_limit] || ((size_t)buffered & 1) || !p->out)
      return ev | EV_PLAY_JS; /* tick() plays the rest (and checks the media timeout) */
    const size_t at = (size_t)buffered / 2;
    const int16_t *a = stream_take(p->blk[0], p->blk_shape[0], slot);
    const int16_t *b = stream_take(p->blk[1], p->blk_shape[1], slot);
    const double ss = dsp_mix_filter(p->hist, a, b, p->out + at); /* the JS mix and filter, fused */
    (*played)++;
    s[SL_buffered] = buffered + 2 * DSP_OUT;
    s[SL_next] = slot + 1;
    const int64_t every = (int64_t)s[SL_flush_every];
    if (s[SL_buffered] >= 2.0 * (double)p->out_len || (every > 0 && ((int64_t)slot + 1) % every == (int64_t)s[SL_flush_phase])) ev |= EV_FLUSH;
    /* SilenceTracker.pushSumSquares, then the silence event as endSlotWrite raises it */
    s[SL_sil_total] += 1;
    if (sqrt(ss / DSP_OUT) < s[SL_sil_threshold]) {
      s[SL_sil_silent] += 1;
      s[SL_sil_run] += 1;
    } else {
      s[SL_sil_run] = 0;
    }
    if (s[SL_sil_timeout] > 0) {
      if (s[SL_sil_run] * FRAME_MS >= s[SL_sil_timeout]) {
        if (s[SL_sil_reported] == 0) {
          s[SL_sil_reported] = 1;
          ev |= EV_SILENCE;
        }
      } else if (s[SL_sil_run] == 0) {
        s[SL_sil_reported] = 0;
      }
    }
  }
  if (s[SL_media_timeout] > 0 && now - s[SL_media_bound] >= s[SL_media_timeout] && s[SL_media_reported] == 0) ev |= EV_MEDIA;
  return ev;
}

/* playerTick(nowMs, events: Int32Array) -> n: plays every registered recording's slot due at nowMs (tick_one);
 * events[0] = the slots played, then n pairs [handle, EV_* bits] for the recordings JS must see to. `events` holds
 * 1 + 2 × playerCount() at least, or nothing is played. */
napi_value js_player_tick(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  double now = 0;
  int32_t *events;
  napi_typedarray_type type;
  size_t nev = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2 || napi_get_value_double(env, argv[0], &now) != napi_ok ||
      napi_get_typedarray_info(env, argv[1], &type, &nev, (void **)&events, NULL, NULL) != napi_ok || type != napi_int32_array || !isfinite(now))
    FAIL("playerTick(nowMs, events: Int32Array)");
  if (nev < 1 + 2 * (size_t)nlive) {
    napi_throw_range_error(env, NULL, "playerTick: events holds fewer than 1 + 2 × playerCount() entries");
    return NULL;
  }
  uint32_t played = 0, n = 0;
  if (nlive > 0) prefetch_state(&players[live[0]]);
  if (nlive > 1) prefetch_state(&players[live[1]]);
  for (int i = 0; i < nlive; i++) {
    if (i + 2 < nlive) prefetch_state(&players[live[i + 2]]);
    if (i + 1 < nlive) prefetch_slot(&players[live[i + 1]], now);
    const int ev = tick_one(&players[live[i]], now, &played);
    if (ev) {
      events[1 + 2 * n] = live[i];
      events[2 + 2 * n] = ev;
      n++;
    }
  }
  events[0] = (int32_t)played;
  napi_value out;
  napi_create_uint32(env, n, &out);
  return out;
}

/* playerCount() -> the recordings registered in this thread. */
napi_value js_player_count(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_int32(env, nlive, &out);
  return out;
}

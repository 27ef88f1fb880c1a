/*
 * jitter-buffer.ts's push in C, on the same memory (the stream block, stream-block.ts), so that the native receiver
 * places the packets of a stream's accepted source while it reads them, with no call into JS per packet.
 * Line for line the JS: the same double arithmetic in the same order (no FMA contraction, no fast-math), the same
 * integer wraps (seqDelta: int16, tsDelta: int32), so both leave identical bytes (test/unit/media/native-stream.test.ts).
 */
#include "stream.h"
#include "block_pool.h"
#include <emmintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RTP_HEADER_MIN 12
/* The last slot a ring index is computed for (2^53 − 1, JS's Number.MAX_SAFE_INTEGER): (int64_t) of a double beyond
 * is undefined. 20 ms slots: 5.7 million years. */
#define SLOT_MAX 9007199254740991.0
#define FIELD(name) f[S_##name]

/* Packets of a new SSRC, within SSRC_CONFIRM_FRAMES of its first, before it takes the stream over (jitter-buffer.ts). */
#define SSRC_CONFIRM 3
#define SSRC_CONFIRM_FRAMES 10

static inline double *entry(double *f, size_t i) { return stream_entry(f, i, (size_t)FIELD(samplesPerFrame)); }

double stream_block_shape(const double *f, size_t bytes) {
  if (bytes < STREAM_FIELD_COUNT * 8) return 0;
  double cap = f[S_capacity], n = f[S_samplesPerFrame];
  if (!(cap >= 2 && cap <= 4096 && cap == floor(cap) && n >= 2 && n <= 8192 && n == floor(n))) return 0;
  if (bytes < STREAM_FIELD_COUNT * 8 + (size_t)cap * stream_frame_stride((size_t)n)) return 0;
  return cap * 65536 + n;
}

int stream_block_valid(const double *f, size_t bytes) { return stream_block_shape(f, bytes) != 0; }

static inline int same_shape(const double *f, double shape) { return f[S_capacity] * 65536 + f[S_samplesPerFrame] == shape; }

/* rtp-packet.ts seqDelta / tsDelta */
static inline double seq_delta(double a, double b) { return (double)(int16_t)(uint16_t)((uint32_t)b - (uint32_t)a); }
/* `seq` extended next to the highest sequence number seen (its dropout not checked), and an extended number's slot in
 * the timeline (the anchor of its segment): how push maps an in-order packet, and what prefetch_entry guesses. */
static inline double ext_near_max(const double *f, double seq) {
  const double max_ext = FIELD(maxExt);
  return max_ext + seq_delta((double)((int64_t)max_ext & 0xffff), seq);
}
static inline double slot_of_ext(const double *f, double ext) { return FIELD(baseSlot) + (ext - FIELD(baseExt)); }
static inline double ts_delta(double a, double b) { return (double)(int32_t)((uint32_t)b - (uint32_t)a); }

static void anchor(double *f, double ssrc, double ext, double arrival_frames, int reanchor) {
  int anchored = FIELD(anchored) == 1;
  if (anchored) {
    double seg_expected = FIELD(maxExt) - FIELD(segFirstExt) + 1;
    double missing = seg_expected - FIELD(segReceived);
    FIELD(lostClosed) += missing > 0 ? missing : 0;
  }
  if (reanchor) FIELD(reanchors)++;
  FIELD(candSsrc) = -1;
  FIELD(candRun) = 0;
  FIELD(anchored) = 1;
  FIELD(ssrc) = ssrc;
  FIELD(maxExt) = ext;
  FIELD(baseExt) = ext;
  double slot = floor(arrival_frames);
  FIELD(baseSlot) = reanchor && FIELD(nextSlot) > slot ? FIELD(nextSlot) : slot;
  FIELD(segFirstExt) = ext;
  FIELD(segReceived) = 1;
  FIELD(haveTransit) = 0;
  FIELD(winCount) = 0;
  FIELD(winMin) = INFINITY;
  FIELD(lateWindows) = 0;
}

static void track_drift(double *f, double d) {
  if (d < FIELD(winMin)) FIELD(winMin) = d;
  if (++FIELD(winCount) < FIELD(driftWindow)) return;
  double off = FIELD(winMin);
  FIELD(winCount) = 0;
  FIELD(winMin) = INFINITY;
  if (off > FIELD(driftFrames) && off <= FIELD(driftLateFrames) && ++FIELD(lateWindows) < FIELD(driftLateWindows)) return;
  if (off > FIELD(driftFrames) || off < -FIELD(driftFrames)) {
    FIELD(baseSlot) += floor(off);
    FIELD(reanchors)++;
  }
  FIELD(lateWindows) = 0;
}

static void update_jitter(double *f, double ts, double arrival_ms) {
  if (FIELD(haveTransit) == 1) {
    double d_arrival = ((arrival_ms - FIELD(prevArrivalMs)) * FIELD(clockRate)) / 1000;
    double d = fabs(d_arrival - ts_delta(FIELD(prevTs), ts));
    FIELD(jitterTs) += (d - FIELD(jitterTs)) / 16;
    if (FIELD(jitterTs) > FIELD(maxJitterTs)) FIELD(maxJitterTs) = FIELD(jitterTs);
  }
  FIELD(haveTransit) = 1;
  FIELD(prevArrivalMs) = arrival_ms;
  FIELD(prevTs) = ts;
}

/* Samples [from, to) of a big-endian payload into `out` in host order. */
static inline void swap_copy(int16_t *out, const uint8_t *payload, size_t from, size_t to) {
  for (size_t k = from; k < to; k++) out[k] = (int16_t)(uint16_t)(((uint16_t)payload[2 * k] << 8) | payload[2 * k + 1]);
}

int stream_push(double *f, uint32_t seq32, uint32_t ts32, uint32_t ssrc32, const uint8_t *payload, double arrival_ms) {
  const double seq = seq32, ts = ts32, ssrc = ssrc32;
  FIELD(received)++;
  const double arrival_frames = (arrival_ms - FIELD(startAtMs)) / FIELD(frameMs);
  double ext;
  if (FIELD(anchored) != 1) {
    ext = seq;
    anchor(f, ssrc, ext, arrival_frames, 0);
    update_jitter(f, ts, arrival_ms);
  } else if (ssrc != FIELD(ssrc)) {
    /* another SSRC takes over after SSRC_CONFIRM of its packets within SSRC_CONFIRM_FRAMES (jitter-buffer.ts) */
    if (ssrc != FIELD(candSsrc) || arrival_frames - FIELD(candSinceFrames) > SSRC_CONFIRM_FRAMES) {
      FIELD(candSsrc) = ssrc;
      FIELD(candRun) = 0;
      FIELD(candSinceFrames) = arrival_frames;
    }
    if (++FIELD(candRun) < SSRC_CONFIRM) {
      FIELD(late)++;
      return PUSH_LATE;
    }
    FIELD(ssrcChanges)++;
    ext = seq;
    anchor(f, ssrc, ext, arrival_frames, 1);
    update_jitter(f, ts, arrival_ms);
  } else {
    ext = ext_near_max(f, seq);
    const double delta = ext - FIELD(maxExt);
    if (delta > FIELD(maxDropout) || delta < -FIELD(maxDropout)) {
      ext = seq;
      anchor(f, ssrc, ext, arrival_frames, 1);
      update_jitter(f, ts, arrival_ms);
    } else {
      if (delta > 0) FIELD(maxExt) = ext;
      FIELD(segReceived)++;
      update_jitter(f, ts, arrival_ms);
      track_drift(f, arrival_frames - slot_of_ext(f, ext));
    }
  }

  const double slot = slot_of_ext(f, ext);
  /* Written as "not (≥ …)": a slot before the start is never placed, even past a playout point JS set before it, and
   * the ring index below stays inside the block whatever its fields say (a NaN counts as late). */
  if (!(slot >= FIELD(nextSlot) && slot >= 0)) {
    if (slot < 0) FIELD(beforeStart)++;
    else FIELD(late)++;
    return PUSH_LATE;
  }
  const double cap = FIELD(capacity);
  if (slot - FIELD(nextSlot) >= cap || slot > SLOT_MAX) {
    FIELD(early)++;
    return PUSH_EARLY;
  }
  const size_t i = (size_t)((int64_t)slot % (int64_t)cap);
  double *tags = entry(f, i); /* [0] slot, [1] seq, then the samples */
  if (tags[0] == slot) {
    if (tags[1] == ext) {
      FIELD(duplicate)++;
      FIELD(segReceived)--;
      return PUSH_DUPLICATE;
    }
    FIELD(overlap)++;
    return PUSH_OVERLAP;
  }
  tags[0] = slot;
  tags[1] = ext;
  const size_t n = (size_t)FIELD(samplesPerFrame);
  int16_t *out = (int16_t *)(tags + 2);
  /* The entry's first line (its tags, just read) is written as usual; the rest straight to memory (streaming stores:
   * no read for ownership of lines that are wholly overwritten, and no cache taken by audio read 300 ms later). */
  size_t k = n < 24 ? n : 24; /* 16 bytes of tags + 48 of samples: line 0 */
  swap_copy(out, payload, 0, k);
  if (((uintptr_t)(out + k) & 15) == 0) /* (a test's plain ArrayBuffer may start off 16 bytes) */
    for (; k + 8 <= n; k += 8) {
      __m128i v = _mm_loadu_si128((const __m128i *)(payload + 2 * k));
      _mm_stream_si128((__m128i *)(out + k), _mm_or_si128(_mm_slli_epi16(v, 8), _mm_srli_epi16(v, 8)));
    }
  swap_copy(out, payload, k, n);
  if (slot > FIELD(highestSlot)) FIELD(highestSlot) = slot;
  return PUSH_ACCEPTED;
}

int stream_fast_packet(double *f, double shape, const uint8_t *b, uint32_t len, double addr, int32_t port, double arrival_ms) {
  if (!same_shape(f, shape)) return 0;
  if (FIELD(removed) == 1) return 1; /* dropped, as the JS path drops it */
  if (FIELD(srcPort) == 0 || port != (int32_t)FIELD(srcPort)) return 0;
  if (FIELD(srcAny) != 1 && (addr < 0 || addr != FIELD(srcAddr))) return 0;
  /* parseRtp's checks (rtp-packet.ts); anything unusual goes to the JS path, which counts it */
  if (len < RTP_HEADER_MIN || (b[0] >> 6) != 2) return 0;
  uint32_t off = RTP_HEADER_MIN + (uint32_t)(b[0] & 0x0f) * 4;
  if (off > len) return 0;
  if (b[0] & 0x10) {
    if (off + 4 > len) return 0;
    off += 4 + (((uint32_t)b[off + 2] << 8) | b[off + 3]) * 4;
    if (off > len) return 0;
  }
  uint32_t end = len;
  if (b[0] & 0x20) {
    uint32_t count = b[len - 1];
    if (count == 0 || len - count < off) return 0;
    end = len - count;
  }
  if ((b[1] & 0x7f) != (uint32_t)FIELD(payloadType) || end - off != (uint32_t)FIELD(payloadBytes)) return 0;
  if (FIELD(payloadBytes) != 2 * FIELD(samplesPerFrame)) return 0;
  if (arrival_ms > FIELD(lastAcceptedMs)) FIELD(lastAcceptedMs) = arrival_ms;
  uint32_t seq = ((uint32_t)b[2] << 8) | b[3];
  uint32_t ts = ((uint32_t)b[4] << 24) | ((uint32_t)b[5] << 16) | ((uint32_t)b[6] << 8) | b[7];
  uint32_t ssrc = ((uint32_t)b[8] << 24) | ((uint32_t)b[9] << 16) | ((uint32_t)b[10] << 8) | b[11];
  stream_push(f, seq, ts, ssrc, b + off, arrival_ms);
  return 1;
}

void stream_prefetch_entry(const double *f, double shape, const uint8_t *b, uint32_t len) {
  if (len < RTP_HEADER_MIN || !same_shape(f, shape) || FIELD(anchored) != 1) return;
  const double slot = slot_of_ext(f, ext_near_max(f, (double)(((uint32_t)b[2] << 8) | b[3])));
  if (!(slot >= 0 && slot <= SLOT_MAX && slot >= FIELD(nextSlot) && slot - FIELD(nextSlot) < FIELD(capacity))) return;
  const size_t n = (size_t)FIELD(samplesPerFrame);
  const char *e = (const char *)stream_entry((double *)f, (size_t)((int64_t)slot % (int64_t)FIELD(capacity)), n);
  __builtin_prefetch(e, 1, 3); /* the tags' line: the rest is written with streaming stores (stream_push) */
}

const int16_t *stream_take(double *f, double shape, double slot) {
  if (!same_shape(f, shape)) return NULL;
  if (slot < FIELD(nextSlot)) return NULL;
  FIELD(nextSlot) = slot + 1;
  if (!(slot >= 0 && slot <= SLOT_MAX)) return NULL;
  const size_t i = (size_t)((int64_t)slot % (int64_t)FIELD(capacity));
  double *tags = entry(f, i);
  if (tags[0] != slot) return NULL;
  tags[0] = -1;
  return (const int16_t *)(tags + 2);
}

#define BLOCK_MAX (64u << 20)

/* hint: the block's size, its low bit set when it came from aligned_alloc (too big for the pool) */
static void block_free(napi_env env, void *data, void *hint) {
  const uintptr_t h = (uintptr_t)hint;
  int64_t ignored;
  if (env) napi_adjust_external_memory(env, -(int64_t)(h >> 1), &ignored);
  if (h & 1) free(data);
  else block_pool_free(data);
}

/* streamBlock(bytes) -> a zero-filled ArrayBuffer of `bytes` starting on a cache line (the hot fields are 4 lines, a
 * ring entry whole lines: stream.h), on a transparent huge page (block_pool.c), returned when collected. An ordinary
 * ArrayBuffer starts on 16 bytes, on 4 KiB pages. */
napi_value js_stream_block(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  uint32_t bytes = 0;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1 || napi_get_value_uint32(env, argv[0], &bytes) != napi_ok ||
      bytes == 0 || bytes > BLOCK_MAX) {
    napi_throw_range_error(env, NULL, "streamBlock(bytes: 1..64 MiB)");
    return NULL;
  }
  const int pooled = block_pool_fits(bytes);
  void *p = pooled ? block_pool_alloc(bytes) : aligned_alloc(64, ((size_t)bytes + 63) / 64 * 64);
  if (!p) {
    napi_throw_error(env, "ENOMEM", "streamBlock: out of memory");
    return NULL;
  }
  if (!pooled) memset(p, 0, bytes);
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, bytes, block_free, (void *)(((uintptr_t)bytes << 1) | (pooled ? 0 : 1)), &ab) != napi_ok) {
    if (pooled) block_pool_free(p);
    else free(p);
    napi_throw_error(env, NULL, "streamBlock: external ArrayBuffer refused");
    return NULL;
  }
  int64_t ignored;
  napi_adjust_external_memory(env, (int64_t)bytes, &ignored); /* so the GC weighs what it would free */
  return ab;
}

/* streamFields() -> the field names in block order (the JS layout is checked against it). */
napi_value js_stream_fields(napi_env env, napi_callback_info info) {
#define STREAM_FIELD_NAME(name) #name,
  static const char *names[] = {STREAM_FIELD_LIST(STREAM_FIELD_NAME)};
  napi_value arr;
  if (napi_create_array_with_length(env, S_FIELD_USED, &arr) != napi_ok) return NULL;
  for (uint32_t i = 0; i < S_FIELD_USED; i++) {
    napi_value s;
    if (napi_create_string_utf8(env, names[i], NAPI_AUTO_LENGTH, &s) != napi_ok || napi_set_element(env, arr, i, s) != napi_ok) return NULL;
  }
  return arr;
}

/* streamPush(block: ArrayBuffer, seq, ts, ssrc, payload: Uint8Array, offset, arrivalMs) -> Push result (tests). */
napi_value js_stream_push(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  void *block = NULL, *data = NULL;
  size_t block_len = 0, len = 0;
  uint32_t seq = 0, ts = 0, ssrc = 0, offset = 0;
  double arrival = 0;
  napi_typedarray_type type;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7 || napi_get_arraybuffer_info(env, argv[0], &block, &block_len) != napi_ok ||
      napi_get_value_uint32(env, argv[1], &seq) != napi_ok || napi_get_value_uint32(env, argv[2], &ts) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &ssrc) != napi_ok || napi_get_typedarray_info(env, argv[4], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || napi_get_value_uint32(env, argv[5], &offset) != napi_ok || napi_get_value_double(env, argv[6], &arrival) != napi_ok) {
    napi_throw_type_error(env, NULL, "streamPush(block: ArrayBuffer, seq, ts, ssrc, payload: Uint8Array, offset, arrivalMs)");
    return NULL;
  }
  double *f = (double *)block;
  if (!stream_block_valid(f, block_len) || (size_t)offset + 2 * (size_t)f[S_samplesPerFrame] > len) {
    napi_throw_range_error(env, NULL, "ari_udp: stream block or payload too small");
    return NULL;
  }
  napi_value r;
  napi_create_int32(env, stream_push(f, seq & 0xffff, ts, ssrc, (const uint8_t *)data + offset, arrival), &r);
  return r;
}

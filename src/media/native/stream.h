/* One receive stream's block (src/media/stream-block.ts) and its packet placement in C (stream.c). */
#ifndef ARI_STREAM_H
#define ARI_STREAM_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* The state fields, in stream-block.ts's STREAM_FIELDS order (streamFields() returns these names; a test compares). */
/* Lines 0–3 (8 doubles each) hold all an ordinary packet's placement touches (STREAM_HOT_LINES), line 0 all a take does. */
#define STREAM_FIELD_LIST(X)                                                                                          \
  X(capacity) X(samplesPerFrame) X(nextSlot) X(removed) X(srcPort) X(srcAddr) X(srcAny) X(payloadType)              \
  X(payloadBytes) X(lastAcceptedMs) X(received) X(startAtMs) X(frameMs) X(anchored) X(ssrc) X(maxExt)               \
  X(maxDropout) X(segReceived) X(haveTransit) X(prevArrivalMs) X(clockRate) X(prevTs) X(jitterTs) X(maxJitterTs)    \
  X(winMin) X(winCount) X(driftWindow) X(baseSlot) X(baseExt) X(highestSlot) X(driftFrames) X(driftLateFrames)      \
  X(driftLateWindows) X(lateWindows) X(candSsrc) X(segFirstExt) X(lostClosed) X(late) X(duplicate) X(early)          \
  X(overlap) X(beforeStart) X(reanchors) X(ssrcChanges) X(candRun) X(candSinceFrames)
#define STREAM_HOT_LINES 4

#define STREAM_FIELD_ENUM(name) S_##name,
enum { STREAM_FIELD_LIST(STREAM_FIELD_ENUM) S_FIELD_USED };
#define STREAM_FIELD_COUNT 48

/* A ring entry: [f64 tag slot][f64 tag seq][i16 × samplesPerFrame], rounded up to whole 64-byte lines (stream-block.ts). */
static inline size_t stream_frame_stride(size_t samples) { return (16 + 2 * samples + 63) / 64 * 64; }
static inline double *stream_entry(double *f, size_t i, size_t samples) {
  return (double *)((char *)f + STREAM_FIELD_COUNT * 8 + i * stream_frame_stride(samples));
}

/* Push results, as jitter-buffer.ts's Push. */
enum { PUSH_ACCEPTED = 0, PUSH_DUPLICATE = 1, PUSH_LATE = 2, PUSH_EARLY = 3, PUSH_OVERLAP = 4 };

/*
 * A block's shape (capacity × 65536 + samplesPerFrame) when its size fits them, else 0. The per-packet functions take
 * the shape found when the block was handed over and refuse a block whose fields no longer say it: the JS owns that
 * memory, and a C write never leaves it.
 */
double stream_block_shape(const double *f, size_t bytes);
int stream_block_valid(const double *f, size_t bytes);

/* JitterBuffer.push on the block `f`: `payload` holds 2·samplesPerFrame bytes of big-endian samples. */
int stream_push(double *f, uint32_t seq, uint32_t ts, uint32_t ssrc, const uint8_t *payload, double arrival_ms);

/*
 * The receiver's fast path for one datagram on a stream's socket: a valid RTP packet of the stream's payload type
 * and size, from its accepted IPv4 source (`addr` host order, −1 for an IPv6 source), is placed and 1 returned;
 * anything else returns 0 and is left to the JS path (which counts it, latches the source, or refuses it).
 */
int stream_fast_packet(double *f, double shape, const uint8_t *buf, uint32_t len, double addr, int32_t port, double arrival_ms);

/*
 * Asks for the tags' line of the ring entry that the datagram `buf` (`len` bytes) will most likely be placed into (the
 * rest of the entry is written with streaming stores, stream_push): its sequence number
 * mapped as stream_push maps an in-order packet, from the block's (already fetched) hot fields. A guess: nothing is
 * written, and a wrong one costs a wasted prefetch.
 */
void stream_prefetch_entry(const double *f, double shape, const uint8_t *buf, uint32_t len);

/* JitterBuffer.take on the block: the frame of `slot` (its ring entry, now free) or NULL; nextSlot moves past it. */
const int16_t *stream_take(double *f, double shape, double slot);

napi_value js_stream_fields(napi_env env, napi_callback_info info);
napi_value js_stream_block(napi_env env, napi_callback_info info);
napi_value js_stream_push(napi_env env, napi_callback_info info);

#endif

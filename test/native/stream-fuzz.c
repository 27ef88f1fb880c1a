/*
 * The native fast path for datagrams from the network (src/media/native/stream.c: stream_fast_packet, its prefetch
 * guess and the player's stream_take), driven by hostile input under AddressSanitizer and UBSan
 * (test/unit/media/native-stream-fuzz.test.ts builds and runs it). Every datagram sits in a heap buffer of exactly
 * its length and every stream block in one of exactly its size, so a read or write one byte outside either aborts.
 *
 * Datagrams are RTP-shaped more often than not (so they get past the header checks into the jitter buffer): random
 * CSRC counts, extensions and padding that fit or lie, wrong versions, payload types and sizes, sources that match or
 * not; sequence numbers in order, lost, reordered, duplicated, wrapped, restarted far away; SSRC changes and
 * stragglers of the old SSRC; arrivals with jitter, stalls and bursts; blocks removed under the traffic; a block whose
 * shape changed since it was handed over. The player takes due slots as the mixer does. Checked on top of the
 * sanitizers: a taken frame lies inside its block's ring; nextSlot never goes back; the counters add up to the pushes.
 *
 *   gcc -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -ffp-contract=off -std=gnu11
 *       -ffunction-sections -Wl,--gc-sections -I"$NODE_INCLUDE" test/native/stream-fuzz.c src/media/native/stream.c
 *       src/media/native/block_pool.c -lm -o /tmp/stream-fuzz && /tmp/stream-fuzz SEED BLOCKS PACKETS
 *
 * Prints one JSON line of what was exercised (the test checks that every outcome was reached).
 */
#include "../../src/media/native/stream.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}
static uint32_t below(uint32_t n) { return (uint32_t)(rnd() % n); }
static int chance(uint32_t percent) { return below(100) < percent; }

#define FAIL(...)                      \
  do {                                 \
    fprintf(stderr, "stream-fuzz: "); \
    fprintf(stderr, __VA_ARGS__);      \
    fprintf(stderr, "\n");             \
    exit(1);                           \
  } while (0)

typedef struct {
  unsigned long long datagrams, placed, refused, taken, removed_drops, shape_changes;
  double received, late, duplicate, early, overlap, before_start, reanchors, ssrc_changes;
} totals_t;

/* A block as jitter-buffer.ts's constructor leaves it, with the fast path's source fields (the mixer's attach). */
static double *new_block(size_t cap, size_t n, size_t *bytes_out, double start_ms) {
  const size_t bytes = STREAM_FIELD_COUNT * 8 + cap * stream_frame_stride(n);
  double *f = NULL;
  if (chance(50)) { /* streamBlock's 64-byte line, or a plain allocation's 16 bytes (a test's ArrayBuffer) */
    if (posix_memalign((void **)&f, 64, bytes)) f = NULL;
  } else
    f = malloc(bytes);
  if (!f) FAIL("out of memory");
  memset(f, 0, bytes);
  for (size_t i = 0; i < cap; i++) {
    double *t = stream_entry(f, i, n);
    t[0] = t[1] = -1;
  }
  f[S_startAtMs] = start_ms;
  f[S_frameMs] = 20;
  f[S_samplesPerFrame] = (double)n;
  f[S_clockRate] = 16000;
  f[S_capacity] = (double)cap;
  f[S_driftFrames] = 3;
  f[S_driftWindow] = 25;
  f[S_driftLateFrames] = chance(50) ? 3 : 10;
  f[S_driftLateWindows] = 4;
  f[S_maxDropout] = 1000;
  f[S_highestSlot] = -1;
  f[S_candSsrc] = -1;
  f[S_winMin] = INFINITY;
  /* the pipeline hands a late-joining stream its own playout point (recording-pipeline.ts), before the start or after */
  f[S_nextSlot] = chance(70) ? 0 : (double)below(100) - 50;
  f[S_srcPort] = chance(95) ? 1024 + below(60000) : 0;
  f[S_srcAddr] = chance(90) ? (double)(0x7f000001u + below(1000)) : -1;
  f[S_srcAny] = chance(20);
  f[S_payloadType] = chance(90) ? 118 : below(128);
  f[S_payloadBytes] = chance(95) ? 2.0 * (double)n : below(2000);
  *bytes_out = bytes;
  return f;
}

/* One datagram for the block, as a heap buffer of exactly *len bytes. */
static uint8_t *datagram(const double *f, uint32_t seq, uint32_t ts, uint32_t ssrc, uint32_t *len) {
  const uint32_t n = (uint32_t)f[S_samplesPerFrame];
  if (chance(3)) { /* noise */
    *len = below(1600);
    uint8_t *b = malloc(*len ? *len : 1);
    for (uint32_t i = 0; i < *len; i++) b[i] = (uint8_t)rnd();
    return b;
  }
  const uint32_t cc = chance(90) ? 0 : below(16);
  const int ext = chance(10);
  const uint32_t ext_words = ext ? (chance(80) ? below(4) : below(65536)) : 0;
  const int pad = chance(10);
  uint32_t payload = chance(93) ? (uint32_t)f[S_payloadBytes] : below(2 * n + 64);
  uint32_t pad_bytes = pad ? 1 + below(255) : 0;
  uint32_t body = 12 + 4 * cc + (ext ? 4 + 4 * (ext_words < 64 ? ext_words : 0) : 0) + payload + pad_bytes;
  if (chance(4)) body = below(body + 1); /* cut short: the header claims more than came */
  if (body > 2000) body = 2000;
  uint8_t *b = malloc(body ? body : 1);
  for (uint32_t i = 0; i < body; i++) b[i] = (uint8_t)rnd();
  if (body >= 12) {
    b[0] = (uint8_t)((chance(97) ? 2u : below(4)) << 6 | (pad ? 0x20 : 0) | (ext ? 0x10 : 0) | cc);
    b[1] = (uint8_t)((chance(5) ? 0x80 : 0) | (chance(95) ? (uint32_t)f[S_payloadType] & 0x7f : below(128)));
    b[2] = (uint8_t)(seq >> 8), b[3] = (uint8_t)seq;
    b[4] = (uint8_t)(ts >> 24), b[5] = (uint8_t)(ts >> 16), b[6] = (uint8_t)(ts >> 8), b[7] = (uint8_t)ts;
    b[8] = (uint8_t)(ssrc >> 24), b[9] = (uint8_t)(ssrc >> 16), b[10] = (uint8_t)(ssrc >> 8), b[11] = (uint8_t)ssrc;
    const uint32_t x = 12 + 4 * cc;
    if (ext && x + 4 <= body) b[x + 2] = (uint8_t)(ext_words >> 8), b[x + 3] = (uint8_t)ext_words;
    if (pad && body > 12) b[body - 1] = chance(80) ? (uint8_t)pad_bytes : (uint8_t)rnd();
  }
  *len = body;
  return b;
}

static void take_due(double *f, size_t bytes, double shape, double now_ms, double delay_ms, totals_t *t) {
  const double due = floor((now_ms - delay_ms - f[S_startAtMs]) / f[S_frameMs]);
  const size_t n = (size_t)f[S_samplesPerFrame], stride = stream_frame_stride(n);
  const char *ring = (const char *)f + STREAM_FIELD_COUNT * 8;
  for (double slot = f[S_nextSlot]; slot <= due; slot++) {
    const double before = f[S_nextSlot];
    const int16_t *pcm = stream_take(f, shape, slot);
    if (stream_block_shape(f, bytes) == shape && f[S_nextSlot] < before) FAIL("nextSlot went back");
    if (!pcm) continue;
    const char *p = (const char *)pcm;
    if (p < ring + 16 || p + 2 * n > (const char *)f + bytes || (size_t)(p - 16 - ring) % stride) FAIL("take outside the ring");
    volatile int32_t sum = 0;
    for (size_t k = 0; k < n; k++) sum += pcm[k]; /* every sample read: ASan checks them */
    t->taken++;
  }
}

static void one_block(totals_t *t, uint32_t packets) {
  const size_t cap = chance(70) ? 32 : 2 + below(100);
  const size_t n = chance(80) ? 320 : 2 * (1 + below(400));
  size_t bytes;
  const double start_ms = 1.7e12 + below(1000000);
  double *f = new_block(cap, n, &bytes, start_ms);
  double shape = stream_block_shape(f, bytes);
  if (shape == 0) FAIL("a valid block refused (cap %zu, n %zu)", cap, n);
  if (stream_block_shape(f, bytes - 1) != 0) FAIL("a block one byte short accepted");
  const double delay_ms = chance(80) ? 300 : below(2000);
  uint32_t seq = (uint32_t)rnd(), ts = (uint32_t)rnd(), ssrc = (uint32_t)rnd(), old_ssrc = ssrc;
  double now = start_ms - below(100) + (chance(10) ? -5000.0 : 0.0);
  const double port = f[S_srcPort], addr = f[S_srcAddr];
  /* a few blocks are removed under the traffic, or see their shape rewritten, at some packet */
  const uint32_t remove_at = chance(20) ? below(packets) : UINT32_MAX, reshape_at = chance(10) ? below(packets) : UINT32_MAX;
  for (uint32_t p = 0; p < packets; p++) {
    /* the sender's next packet: in order, lost, reordered, repeated, far away; a new SSRC or an old straggler */
    uint32_t s = seq, stamp = ts, src = ssrc;
    const uint32_t r = below(100);
    if (r < 70) seq++, ts += (uint32_t)n, s = seq, stamp = ts;
    else if (r < 78) seq += 1 + below(30), ts += (uint32_t)n * (seq - s), s = seq, stamp = ts;
    else if (r < 86) s = seq - below(40), stamp = ts - (uint32_t)n * (seq - s);
    else if (r < 90) s = seq;
    else if (r < 93) seq += 1000 + below(64536), s = seq;
    else if (r < 96) old_ssrc = ssrc, ssrc = (uint32_t)rnd(), src = ssrc, seq = (uint32_t)rnd(), s = seq;
    else src = old_ssrc;
    /* when it arrives: 20 ms with jitter, now and then a stall or a burst */
    now += chance(2) ? below(3000) : chance(5) ? 0 : 20 + ((double)below(4000) - 2000) / 100;
    uint32_t len;
    uint8_t *b = datagram(f, s & 0xffff, stamp, src, &len);
    const double from_addr = chance(95) ? addr : (double)(0x0a000000u + below(100));
    const int32_t from_port = chance(95) ? (int32_t)port : (int32_t)below(65536);
    if (p == remove_at) f[S_removed] = 1;
    stream_prefetch_entry(f, shape, b, len);
    const double received = f[S_received];
    const int placed = stream_fast_packet(f, shape, b, len, from_addr, from_port, now);
    if (placed && f[S_removed] == 1) t->removed_drops++;
    else if (placed) {
      t->placed++;
      if (f[S_received] != received + 1) FAIL("a placed datagram not counted");
    } else {
      t->refused++;
      if (f[S_received] != received) FAIL("a refused datagram counted");
    }
    t->datagrams++;
    free(b);
    take_due(f, bytes, shape, now, delay_ms, t);
    if (p == reshape_at) {
      /* the JS side rewrote the block's shape after handing it over: the C refuses it from then on */
      f[S_samplesPerFrame] = (double)(n + 2);
      t->shape_changes++;
      uint32_t l2;
      uint8_t *b2 = datagram(f, (seq + 1) & 0xffff, ts, ssrc, &l2);
      if (stream_fast_packet(f, shape, b2, l2, addr, (int32_t)port, now)) FAIL("a block of another shape written");
      if (stream_take(f, shape, f[S_nextSlot]) != NULL) FAIL("a block of another shape taken from");
      free(b2);
      break;
    }
  }
  t->received += f[S_received];
  t->late += f[S_late];
  t->duplicate += f[S_duplicate];
  t->early += f[S_early];
  t->overlap += f[S_overlap];
  t->before_start += f[S_beforeStart];
  t->reanchors += f[S_reanchors];
  t->ssrc_changes += f[S_ssrcChanges];
  free(f);
}

int main(int argc, char **argv) {
  if (argc < 4) FAIL("usage: stream-fuzz SEED BLOCKS PACKETS");
  rng_state = (strtoull(argv[1], NULL, 10) + 1) * 0x9e3779b97f4a7c15ull | 1; /* distinct seeds, distinct streams */
  const long blocks = atol(argv[2]), packets = atol(argv[3]);
  totals_t t = {0};
  for (long i = 0; i < blocks; i++) one_block(&t, (uint32_t)packets);
  if (t.placed != (unsigned long long)t.received) FAIL("placed %llu, blocks counted %.0f", t.placed, t.received);
  printf("{\"datagrams\":%llu,\"placed\":%llu,\"refused\":%llu,\"removedDrops\":%llu,\"taken\":%llu,\"late\":%.0f,"
         "\"duplicate\":%.0f,\"early\":%.0f,\"overlap\":%.0f,\"beforeStart\":%.0f,\"reanchors\":%.0f,\"ssrcChanges\":%.0f,"
         "\"shapeChanges\":%llu}\n",
         t.datagrams, t.placed, t.refused, t.removed_drops, t.taken, t.late, t.duplicate, t.early, t.overlap, t.before_start,
         t.reanchors, t.ssrc_changes, t.shape_changes);
  return 0;
}

/**
 * The memory of one receive stream, shared by the JS code and the native receiver (src/media/native/stream.c):
 * one ArrayBuffer holding the jitter buffer's state, its ring of frames, and the few stream fields the native
 * fast path needs. The JS `JitterBuffer.push` and the C `stream_push` run the same algorithm on this same
 * memory, so either may place any packet and the other goes on from there (a test compares them byte for byte).
 *
 * Layout: [f64 × FIELD_COUNT state][capacity × frame entry], a frame entry (frameStride bytes, whole 64-byte lines):
 * [f64 tag slot][f64 tag seq][i16 × samples pcm][padding]. The tags sit in the first line of their frame, so placing a
 * packet or taking a frame touches the frame's lines only, not also two tag arrays elsewhere.
 * Every state field is a double (counters, sequence numbers, 32-bit SSRC/timestamps are exact in a double).
 * The order below is the C enum's order (stream.c); `native.streamFields()` returns it, and a test checks both.
 */
export const STREAM_FIELDS = [
  // Ordered by use, 8 doubles to a 64-byte line: lines 0–3 hold every field an ordinary packet's placement reads or
  // writes (the native receiver prefetches these 4 lines, not all 6), line 0 also all the take needs. The rest —
  // counters and state of rare events — come after.
  // line 0: the block's shape (capacity, samplesPerFrame), the playout point, the fast path's source checks
  'capacity',
  'samplesPerFrame',
  /** Next slot to be played out (everything below is gone). */
  'nextSlot',
  /** 1 once the stream is removed: packets are dropped. */
  'removed',
  /** The accepted source's port; 0: not known yet (every packet goes to the JS path, which decides). */
  'srcPort',
  /** The accepted IPv4 source as a 32-bit number (a.b.c.d = a·2^24 + …); −1: an IPv6 source (JS path only). */
  'srcAddr',
  /** 1: any address with that port (an announced wildcard). */
  'srcAny',
  /** RTP payload type and payload bytes a valid packet has (slin16: 118, 640). */
  'payloadType',
  // line 1
  'payloadBytes',
  /** Arrival time of the last packet accepted from the source (media timeout); 0: none. */
  'lastAcceptedMs',
  'received',
  'startAtMs',
  'frameMs',
  'anchored',
  'ssrc',
  'maxExt',
  // line 2: sequence window and RFC 3550 jitter
  'maxDropout',
  'segReceived',
  'haveTransit',
  'prevArrivalMs',
  'clockRate',
  'prevTs',
  'jitterTs',
  'maxJitterTs',
  // line 3: drift window and the slot mapping
  'winMin',
  'winCount',
  'driftWindow',
  'baseSlot',
  'baseExt',
  'highestSlot',
  'driftFrames',
  /** Re-anchor at once when the sender is later than this many frames (≥ driftFrames; the playout delay's room). */
  'driftLateFrames',
  // lines 4–5: rare events
  /** Consecutive windows later than driftFrames (but within driftLateFrames) before re-anchoring for alignment. */
  'driftLateWindows',
  /** Windows in a row so far that were later than driftFrames. */
  'lateWindows',
  /** An SSRC other than the stream's, seen lately: it takes over after SSRC_CONFIRM packets (−1: none). */
  'candSsrc',
  'segFirstExt',
  'lostClosed',
  'late',
  'duplicate',
  'early',
  'overlap',
  'beforeStart',
  'reanchors',
  'ssrcChanges',
  /** Packets of candSsrc so far, and the arrival (in frames) of its first: a run must fit SSRC_CONFIRM_FRAMES. */
  'candRun',
  'candSinceFrames',
] as const;

export type StreamField = (typeof STREAM_FIELDS)[number];

/** Index of each field in the block's Float64Array. */
export const F = Object.fromEntries(STREAM_FIELDS.map((name, i) => [name, i])) as { readonly [K in StreamField]: number };

/** Doubles reserved for the state (room for fields added later without moving the ring). */
export const FIELD_COUNT = 48;

if (STREAM_FIELDS.length > FIELD_COUNT) throw new Error('stream block: too many fields');

/** Bytes of one ring entry: the two f64 tags and the frame's samples, rounded up to whole 64-byte lines. */
export function frameStride(samplesPerFrame: number): number {
  return Math.ceil((16 + 2 * samplesPerFrame) / 64) * 64;
}

/** Byte offset of ring entry `i` (its tag slot; tag seq at +8, samples at +16). */
export function frameOffset(i: number, samplesPerFrame: number): number {
  return 8 * FIELD_COUNT + i * frameStride(samplesPerFrame);
}

/** Bytes of a block for a ring of `capacity` frames of `samplesPerFrame` samples. */
export function streamBlockBytes(capacity: number, samplesPerFrame: number): number {
  return frameOffset(capacity, samplesPerFrame);
}

/** 32-bit number of a dotted IPv4 address (after `::ffff:` is removed), or −1 when it is not one. */
export function ipv4Number(address: string): number {
  const parts = address.split('.');
  if (parts.length !== 4) return -1;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return -1;
    n = n * 256 + Number(p);
  }
  return n;
}

/**
 * The memory of one receive stream, shared by the JS code and the native receiver (src/media/native/stream.c):
 * one ArrayBuffer holding the jitter buffer's state, its ring of frames, and the few stream fields the native
 * fast path needs. The JS `JitterBuffer.push` and the C `stream_push` run the same algorithm on this same
 * memory, so either may place any packet and the other goes on from there (a test compares them byte for byte).
 *
 * Layout: [f64 × FIELD_COUNT state][f64 × capacity tag slot][f64 × capacity tag seq][i16 × capacity × samples pcm]
 * Every state field is a double (counters, sequence numbers, 32-bit SSRC/timestamps are exact in a double).
 * The order below is the C enum's order (stream.c); `native.streamFields()` returns it, and a test checks both.
 */
export const STREAM_FIELDS = [
  // jitter buffer options (written once)
  'startAtMs',
  'frameMs',
  'samplesPerFrame',
  'clockRate',
  'capacity',
  'driftFrames',
  'driftWindow',
  'maxDropout',
  // playout
  'nextSlot',
  'highestSlot',
  // anchor / mapping
  'anchored',
  'ssrc',
  'prevSsrc',
  'maxExt',
  'baseExt',
  'baseSlot',
  // loss per SSRC segment
  'segFirstExt',
  'segReceived',
  'lostClosed',
  // drift window
  'winCount',
  'winMin',
  // RFC 3550 jitter
  'prevArrivalMs',
  'prevTs',
  'haveTransit',
  'jitterTs',
  'maxJitterTs',
  // counters
  'received',
  'late',
  'duplicate',
  'early',
  'overlap',
  'beforeStart',
  'reanchors',
  'ssrcChanges',
  // stream fields for the native fast path (see RecordingPipeline / BatchReceiver.attach)
  /** The accepted source's port; 0: not known yet (every packet goes to the JS path, which decides). */
  'srcPort',
  /** The accepted IPv4 source as a 32-bit number (a.b.c.d = a·2^24 + …); −1: an IPv6 source (JS path only). */
  'srcAddr',
  /** 1: any address with that port (an announced wildcard). */
  'srcAny',
  /** RTP payload type and payload bytes a valid packet has (slin16: 118, 640). */
  'payloadType',
  'payloadBytes',
  /** 1 once the stream is removed: packets are dropped. */
  'removed',
  /** Arrival time of the last packet accepted from the source (media timeout); 0: none. */
  'lastAcceptedMs',
  // late-side drift (appended: the fields above keep their places)
  /** Re-anchor at once when the sender is later than this many frames (≥ driftFrames; the playout delay's room). */
  'driftLateFrames',
  /** Consecutive windows later than driftFrames (but within driftLateFrames) before re-anchoring for alignment. */
  'driftLateWindows',
  /** Windows in a row so far that were later than driftFrames. */
  'lateWindows',
] as const;

export type StreamField = (typeof STREAM_FIELDS)[number];

/** Index of each field in the block's Float64Array. */
export const F = Object.fromEntries(STREAM_FIELDS.map((name, i) => [name, i])) as { readonly [K in StreamField]: number };

/** Doubles reserved for the state (room for fields added later without moving the ring). */
export const FIELD_COUNT = 48;

if (STREAM_FIELDS.length > FIELD_COUNT) throw new Error('stream block: too many fields');

/** Bytes of a block for a ring of `capacity` frames of `samplesPerFrame` samples. */
export function streamBlockBytes(capacity: number, samplesPerFrame: number): number {
  return 8 * (FIELD_COUNT + 2 * capacity) + 2 * capacity * samplesPerFrame;
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

/**
 * RTP header parsing (RFC 3550 §5.1) without allocation.
 *
 * `parseRtp` fills a caller-owned `RtpHeader` object (reused for every packet of a socket) and returns a
 * status code; nothing is allocated per packet. Anything that is not a well-formed RTP v2 packet is
 * reported as invalid so the caller can count and drop it.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 * |            contributing source (CSRC) identifiers  (CC × 4)   |
 * |  profile-defined ext id (16)  |   ext length in 32-bit words  |  (if X)
 * |                        extension words ...                    |
 * |                       payload ...           | padding | count |  (if P)
 */

export const RTP_HEADER_MIN = 12;

export const RtpParse = {
  OK: 0,
  TOO_SHORT: 1,
  BAD_VERSION: 2,
  BAD_CSRC: 3,
  BAD_EXTENSION: 4,
  BAD_PADDING: 5,
} as const;
export type RtpParseResult = (typeof RtpParse)[keyof typeof RtpParse];

export interface RtpHeader {
  payloadType: number;
  marker: boolean;
  /** 16-bit sequence number. */
  seq: number;
  /** 32-bit timestamp, unsigned. */
  timestamp: number;
  /** 32-bit SSRC, unsigned. */
  ssrc: number;
  /** Byte offset of the payload inside the datagram. */
  payloadOffset: number;
  /** Payload length in bytes (padding excluded). */
  payloadLength: number;
}

export function newRtpHeader(): RtpHeader {
  return { payloadType: 0, marker: false, seq: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
}

/**
 * Parses `buf[0..len)` into `out`. Returns RtpParse.OK or the reason the packet is invalid
 * (in which case `out` is partially filled and must not be used).
 */
export function parseRtp(buf: Uint8Array, out: RtpHeader, len: number = buf.length): RtpParseResult {
  if (len < RTP_HEADER_MIN) return RtpParse.TOO_SHORT;
  const b0 = buf[0];
  if (b0 >> 6 !== 2) return RtpParse.BAD_VERSION;
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  const b1 = buf[1];
  let offset = RTP_HEADER_MIN + cc * 4;
  if (offset > len) return RtpParse.BAD_CSRC;
  if (extension) {
    if (offset + 4 > len) return RtpParse.BAD_EXTENSION;
    const words = (buf[offset + 2] << 8) | buf[offset + 3];
    offset += 4 + words * 4;
    if (offset > len) return RtpParse.BAD_EXTENSION;
  }
  let end = len;
  if (padding) {
    const count = buf[len - 1];
    // The count includes itself, so 0 is invalid, and padding cannot eat into the header.
    if (count === 0 || len - count < offset) return RtpParse.BAD_PADDING;
    end = len - count;
  }
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.seq = (buf[2] << 8) | buf[3];
  out.timestamp = ((buf[4] << 24) | (buf[5] << 16) | (buf[6] << 8) | buf[7]) >>> 0;
  out.ssrc = ((buf[8] << 24) | (buf[9] << 16) | (buf[10] << 8) | buf[11]) >>> 0;
  out.payloadOffset = offset;
  out.payloadLength = end - offset;
  return RtpParse.OK;
}

/** Signed distance a→b of two 16-bit sequence numbers, in [-32768, 32767]. */
export function seqDelta(a: number, b: number): number {
  return (((b - a) & 0xffff) << 16) >> 16;
}

/** Signed distance a→b of two 32-bit timestamps, in [-2^31, 2^31). */
export function tsDelta(a: number, b: number): number {
  return (b - a) | 0;
}

/** Writes an RTP v2 header (no CSRC, no extension) into buf[0..12). Used by tests and the simulator. */
export function writeRtpHeader(
  buf: Uint8Array,
  h: { payloadType: number; seq: number; timestamp: number; ssrc: number; marker?: boolean },
): void {
  buf[0] = 0x80;
  buf[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  buf[2] = (h.seq >> 8) & 0xff;
  buf[3] = h.seq & 0xff;
  const ts = h.timestamp >>> 0;
  buf[4] = ts >>> 24;
  buf[5] = (ts >>> 16) & 0xff;
  buf[6] = (ts >>> 8) & 0xff;
  buf[7] = ts & 0xff;
  const ssrc = h.ssrc >>> 0;
  buf[8] = ssrc >>> 24;
  buf[9] = (ssrc >>> 16) & 0xff;
  buf[10] = (ssrc >>> 8) & 0xff;
  buf[11] = ssrc & 0xff;
}

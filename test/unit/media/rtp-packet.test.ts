import { describe, expect, it } from 'vitest';
import { newRtpHeader, parseRtp, RtpParse, seqDelta, tsDelta, writeRtpHeader } from '../../../src/media/rtp-packet.js';

function packet(opts: { b0?: number; b1?: number; payload?: number; extra?: number[] } = {}): Uint8Array {
  const payload = opts.payload ?? 640;
  const buf = new Uint8Array(12 + payload);
  writeRtpHeader(buf, { payloadType: 118, seq: 0xabcd, timestamp: 0xfedcba98, ssrc: 0x80000001 });
  if (opts.b0 !== undefined) buf[0] = opts.b0;
  if (opts.b1 !== undefined) buf[1] = opts.b1;
  return buf;
}

function withPrefix(b0: number, middle: number[], payload: number, trailer: number[] = []): Uint8Array {
  const head = packet({ payload: 0 });
  head[0] = b0;
  return Uint8Array.from([...head, ...middle, ...new Array(payload).fill(7), ...trailer]);
}

describe('parseRtp', () => {
  const h = newRtpHeader();

  it('parses an Asterisk slin16 packet', () => {
    expect(parseRtp(packet(), h)).toBe(RtpParse.OK);
    expect(h).toEqual({ payloadType: 118, marker: false, seq: 0xabcd, timestamp: 0xfedcba98, ssrc: 0x80000001, payloadOffset: 12, payloadLength: 640 });
  });

  it('reads the marker bit', () => {
    expect(parseRtp(packet({ b1: 0x80 | 118 }), h)).toBe(RtpParse.OK);
    expect(h.marker).toBe(true);
    expect(h.payloadType).toBe(118);
  });

  it.each([
    ['empty', new Uint8Array(0), RtpParse.TOO_SHORT],
    ['11 bytes', new Uint8Array(11).fill(0x80), RtpParse.TOO_SHORT],
    ['version 1', packet({ b0: 0x40 }), RtpParse.BAD_VERSION],
    ['version 0', packet({ b0: 0x00 }), RtpParse.BAD_VERSION],
    ['version 3', packet({ b0: 0xc0 }), RtpParse.BAD_VERSION],
    ['CSRC count past the end', withPrefix(0x8f, [1, 2, 3, 4], 0), RtpParse.BAD_CSRC],
    ['extension header missing', withPrefix(0x90, [0xbe], 0), RtpParse.BAD_EXTENSION],
    ['extension longer than packet', withPrefix(0x90, [0xbe, 0xde, 0x00, 0x05, 0, 0, 0, 0], 0), RtpParse.BAD_EXTENSION],
    ['padding count 0', withPrefix(0xa0, [], 4, [0]), RtpParse.BAD_PADDING],
    ['padding longer than payload', withPrefix(0xa0, [], 2, [9]), RtpParse.BAD_PADDING],
  ])('rejects %s', (_name, buf, code) => {
    expect(parseRtp(buf, h)).toBe(code);
  });

  it('accepts a header-only packet (empty payload)', () => {
    expect(parseRtp(packet({ payload: 0 }), h)).toBe(RtpParse.OK);
    expect(h.payloadLength).toBe(0);
  });

  it('skips CSRCs', () => {
    const buf = withPrefix(0x82, [0, 0, 0, 1, 0, 0, 0, 2], 640);
    expect(parseRtp(buf, h)).toBe(RtpParse.OK);
    expect(h.payloadOffset).toBe(20);
    expect(h.payloadLength).toBe(640);
  });

  it('skips a header extension', () => {
    const buf = withPrefix(0x90, [0xbe, 0xde, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8], 640);
    expect(parseRtp(buf, h)).toBe(RtpParse.OK);
    expect(h.payloadOffset).toBe(24);
    expect(h.payloadLength).toBe(640);
  });

  it('skips CSRCs + extension + padding together', () => {
    const buf = withPrefix(0xb1, [0, 0, 0, 9, 0xbe, 0xde, 0x00, 0x01, 1, 2, 3, 4], 640, [0, 0, 3]);
    expect(parseRtp(buf, h)).toBe(RtpParse.OK);
    expect(h.payloadOffset).toBe(24);
    expect(h.payloadLength).toBe(640);
  });

  it('removes padding', () => {
    const buf = withPrefix(0xa0, [], 640, [0, 0, 0, 4]);
    expect(parseRtp(buf, h)).toBe(RtpParse.OK);
    expect(h.payloadLength).toBe(640);
  });

  it('honours an explicit length shorter than the buffer', () => {
    const buf = packet();
    expect(parseRtp(buf, h, 12 + 320)).toBe(RtpParse.OK);
    expect(h.payloadLength).toBe(320);
  });
});

describe('sequence and timestamp arithmetic', () => {
  it.each([
    [0, 1, 1],
    [65535, 0, 1],
    [65530, 4, 10],
    [4, 65530, -10],
    [100, 100, 0],
    [0, 32767, 32767],
    [0, 32768, -32768],
  ])('seqDelta(%i, %i) = %i', (a, b, d) => {
    expect(seqDelta(a, b)).toBe(d);
  });

  it.each([
    [320, 640, 320],
    [0xffffff00, 0x40, 0x140],
    [0x40, 0xffffff00, -0x140],
    [0xfffffec0, 0x00000000, 320],
  ])('tsDelta(%i, %i) = %i', (a, b, d) => {
    expect(tsDelta(a, b)).toBe(d);
  });
});

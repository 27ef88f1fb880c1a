import { describe, expect, it } from 'vitest';
import { JitterBuffer } from '../../../src/media/jitter-buffer.js';

/** Fills `n` frames of BE samples in one shared receive buffer at `base`+k·stride, as the batch receiver does. */
function frameBytes(k: number): Uint8Array {
  const p = new Uint8Array(640);
  for (let i = 0; i < 320; i++) {
    const v = ((k * 7919 + i * 104729) % 65536) - 32768; // every bit pattern class, negatives included
    p[2 * i] = (v >> 8) & 0xff;
    p[2 * i + 1] = v & 0xff;
  }
  return p;
}
function expectedSamples(k: number): Int16Array {
  const p = frameBytes(k);
  return Int16Array.from({ length: 320 }, (_, i) => ((p[2 * i]! << 24) >> 16) | p[2 * i + 1]!);
}

describe('JitterBuffer payload copy', () => {
  for (const [name, base, offset] of [
    ['aligned shared buffer (word path)', 0, 12],
    ['odd view offset (byte path)', 1, 12],
    ['header of 14 bytes (byte path)', 0, 14],
  ] as const) {
    it(`decodes big-endian samples exactly: ${name}`, () => {
      const shared = new ArrayBuffer(64 * 2048);
      const jb = new JitterBuffer({ startAtMs: 0, capacity: 32 });
      for (let k = 0; k < 40; k++) {
        const slot = k % 64;
        const view = new Uint8Array(shared, slot * 2048 + base, offset + 640);
        view.set(frameBytes(k), offset);
        jb.push((100 + k) & 0xffff, 320 * k, 7, view, offset, 20 * k + 5);
        const f = jb.take(k);
        expect(f).not.toBeNull();
        expect(Array.from(f!)).toEqual(Array.from(expectedSamples(k)));
      }
    });
  }

  it('alternating buffers (one per datagram, as node:dgram) decode the same', () => {
    const jb = new JitterBuffer({ startAtMs: 0, capacity: 32 });
    for (let k = 0; k < 10; k++) {
      const buf = new Uint8Array(652);
      buf.set(frameBytes(k), 12);
      jb.push(k, 320 * k, 9, buf, 12, 20 * k + 5);
      expect(Array.from(jb.take(k)!)).toEqual(Array.from(expectedSamples(k)));
    }
  });
});

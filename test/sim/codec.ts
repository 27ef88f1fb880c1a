/**
 * Payload encoding of the simulated externalMedia formats. Asterisk sends slin over RTP in network
 * (big-endian) order; µ-law/a-law are one byte per sample (G.711).
 */
import { clamp16 } from './signals.js';

export interface MediaFormat {
  readonly name: 'slin16' | 'slin' | 'ulaw' | 'alaw';
  readonly payloadType: number;
  readonly rate: number;
  /** samples (= RTP timestamp units) per 20 ms packet */
  readonly samplesPerFrame: number;
  readonly bytesPerFrame: number;
}

export const MEDIA_FORMATS: Readonly<Record<MediaFormat['name'], MediaFormat>> = {
  slin16: { name: 'slin16', payloadType: 118, rate: 16000, samplesPerFrame: 320, bytesPerFrame: 640 },
  slin: { name: 'slin', payloadType: 10, rate: 8000, samplesPerFrame: 160, bytesPerFrame: 320 },
  ulaw: { name: 'ulaw', payloadType: 0, rate: 8000, samplesPerFrame: 160, bytesPerFrame: 160 },
  alaw: { name: 'alaw', payloadType: 8, rate: 8000, samplesPerFrame: 160, bytesPerFrame: 160 },
};

/** Formats Asterisk knows (accepted by externalMedia) but the simulator does not stream. */
export const KNOWN_SILENT_FORMATS: ReadonlySet<string> = new Set([
  'slin12', 'slin24', 'slin32', 'slin44', 'slin48', 'slin96', 'slin192', 'g722', 'g729', 'gsm', 'opus', 'g726', 'ilbc', 'speex', 'speex16',
]);

export function encodeFrame(format: MediaFormat, samples: Float64Array): Buffer {
  const n = samples.length;
  switch (format.name) {
    case 'slin16':
    case 'slin': {
      const buf = Buffer.allocUnsafe(n * 2);
      for (let i = 0; i < n; i++) buf.writeInt16BE(clamp16(samples[i]), i * 2);
      return buf;
    }
    case 'ulaw': {
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) buf[i] = linearToUlaw(clamp16(samples[i]));
      return buf;
    }
    case 'alaw': {
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) buf[i] = linearToAlaw(clamp16(samples[i]));
      return buf;
    }
  }
}

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

export function linearToUlaw(sample: number): number {
  let s = sample;
  const sign = s < 0 ? 0x80 : 0;
  if (s < 0) s = -s;
  if (s > ULAW_CLIP) s = ULAW_CLIP;
  s += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return sign ? -magnitude : magnitude;
}

export function linearToAlaw(sample: number): number {
  let s = sample >> 3;
  let mask: number;
  if (s >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    s = -s - 1;
  }
  const segEnd = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];
  let seg = 0;
  while (seg < 8 && s > segEnd[seg]) seg++;
  if (seg >= 8) return 0x7f ^ mask;
  let aval = seg << 4;
  aval |= seg < 2 ? (s >> 1) & 0x0f : (s >> seg) & 0x0f;
  return aval ^ mask;
}

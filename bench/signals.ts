/**
 * Known test signals of the load benchmark, shared by the load generator (which sends them) and the
 * SNR check (which rebuilds the reference mix from them offline).
 *
 * Every stream carries a sum of two integer-Hz tones, so the signal repeats every second exactly
 * (16 000 samples = 50 packets): the generator precomputes 50 payloads per signal and sends them in a
 * loop. Call c uses pair `c % SIGNAL_PAIRS`; its in-direction and out-direction tones differ, and all
 * tones are inside the 0–3 400 Hz passband of the 16→8 kHz decimator. Two tones with unrelated
 * frequencies make the cross-correlation unambiguous within ±0.5 s, so a stream placed in the wrong
 * slot shows up as a low SNR (a single tone would hide whole-period shifts).
 */
export const SIGNAL_RATE = 16000;
export const SAMPLES_PER_PACKET = 320;
export const PACKETS_PER_PERIOD = 50;
export const SIGNAL_PAIRS = 16;
/** Peak amplitude of each tone (a stream peaks at 2×, the mix of two streams at 4× = 16 000). */
export const TONE_AMPLITUDE = 4000;

export interface SignalSpec {
  /** [frequency Hz (integer), peak amplitude] */
  tones: [number, number][];
}

export function callSignals(call: number): { in: SignalSpec; out: SignalSpec } {
  const m = call % SIGNAL_PAIRS;
  return {
    in: { tones: [[311 + 97 * m, TONE_AMPLITUDE], [1811 + 83 * m, TONE_AMPLITUDE]] },
    out: { tones: [[523 + 71 * m, TONE_AMPLITUDE], [2437 + 53 * m, TONE_AMPLITUDE]] },
  };
}

/** Sample k (from the stream's first packet) of a signal, rounded to int16 as the generator sends it. */
export function signalSample(spec: SignalSpec, k: number): number {
  let v = 0;
  for (const [f, a] of spec.tones) v += a * Math.sin((2 * Math.PI * f * (k % SIGNAL_RATE)) / SIGNAL_RATE);
  const r = Math.round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** One period (50 packets) of big-endian slin16 payloads, 640 bytes each. */
export function signalPayloads(spec: SignalSpec): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < PACKETS_PER_PERIOD; p++) {
    const b = Buffer.alloc(SAMPLES_PER_PACKET * 2);
    for (let k = 0; k < SAMPLES_PER_PACKET; k++) b.writeInt16BE(signalSample(spec, p * SAMPLES_PER_PACKET + k), 2 * k);
    out.push(b);
  }
  return out;
}

/** Mixing with saturation (never wraps). */

const MAX = 32767;
const MIN = -32768;

/** acc[i] += frame[i]. Lengths must match (RangeError otherwise). Float32 holds int16 sums exactly up to 2^24. */
export function mixInto(acc: Float32Array, frame: Int16Array | Float32Array): void {
  const n = acc.length;
  if (frame.length !== n) throw new RangeError(`mixInto: frame length ${frame.length} != accumulator length ${n}`);
  for (let i = 0; i < n; i++) acc[i] += frame[i]!;
}

/**
 * dst[i] = src[i] rounded to nearest (ties away from zero) and clamped to [-32768, 32767].
 * NaN becomes 0. Lengths must match.
 */
export function saturateToInt16(src: Float32Array, dst: Int16Array): void {
  const n = src.length;
  if (dst.length !== n) throw new RangeError(`saturateToInt16: dst length ${dst.length} != src length ${n}`);
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    // Int16Array stores truncate toward zero, so ±0.5 then truncation = round half away from zero.
    if (v >= MAX) dst[i] = MAX;
    else if (v <= MIN) dst[i] = MIN;
    else dst[i] = v >= 0 ? v + 0.5 : v - 0.5;
  }
}

/** out[i] = saturate(Σ frames[k][i]). All frames must have out.length samples. No frames → silence. */
export function mixSaturating(frames: Int16Array[], out: Int16Array): void {
  const n = out.length;
  for (const f of frames) {
    if (f.length !== n) throw new RangeError(`mixSaturating: frame length ${f.length} != out length ${n}`);
  }
  const k = frames.length;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += frames[j]![i]!;
    out[i] = s > MAX ? MAX : s < MIN ? MIN : s;
  }
}

/**
 * A wideband slot (sample_rate 16000): out[i] = saturate(Σ frames[k][i]) at the input rate, no decimation; frames
 * may be null (nothing for that stream). Sums in float64 in frame order (exact for int16 frames), rounds half away
 * from zero, clamps. Returns Σ out[i]² for the silence tracker. No allocation.
 */
export function mixWideSlot(frames: readonly (Int16Array | Float32Array | null)[], out: Int16Array): number {
  const n = out.length;
  for (const f of frames) if (f && f.length !== n) throw new RangeError(`mixWideSlot: frame length ${f.length} != out length ${n}`);
  let ss = 0;
  for (let i = 0; i < n; i++) {
    let v = 0;
    for (let k = 0; k < frames.length; k++) {
      const f = frames[k];
      if (f) v += f[i]!;
    }
    const q = v >= MAX ? MAX : v <= MIN ? MIN : v >= 0 ? Math.trunc(v + 0.5) : Math.trunc(v - 0.5);
    out[i] = q;
    ss += q * q;
  }
  return ss;
}

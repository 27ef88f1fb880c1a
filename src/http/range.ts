/**
 * `Range: bytes=…` parsing (RFC 9110 §14). Pure: no I/O.
 *
 * Decisions, all allowed by RFC 9110:
 * - one satisfiable range → 206 with that range (the end is clamped to the last byte);
 * - a range whose start is at or past the end, `bytes=-0`, or any range of an empty file → 416;
 * - several ranges (`bytes=0-1,5-6`) → the whole content, 200 (we never send multipart/byteranges);
 * - anything malformed (another unit, `bytes=5-2`, junk) → the header is ignored, 200.
 */
export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const FULL: RangeResult = { kind: 'full' };
const UNSATISFIABLE: RangeResult = { kind: 'unsatisfiable' };
const SPEC = /^(\d*)-(\d*)$/;

export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return FULL;
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return FULL;
  const specs = header
    .slice(eq + 1)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length !== 1) return FULL;

  const m = SPEC.exec(specs[0]);
  if (!m) return FULL;
  const [, first, last] = m;

  if (first === '') {
    // suffix range: the last N bytes
    if (last === '') return FULL;
    const n = Number(last);
    if (n === 0 || size === 0) return UNSATISFIABLE;
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }

  const start = Number(first);
  if (last !== '') {
    const end = Number(last);
    if (end < start) return FULL; // invalid range-spec: ignore the header
    if (start >= size) return UNSATISFIABLE;
    return { kind: 'partial', start, end: Math.min(end, size - 1) };
  }
  if (start >= size) return UNSATISFIABLE;
  return { kind: 'partial', start, end: size - 1 };
}

/** `Content-Range` value for a 206 or a 416. */
export function contentRange(result: RangeResult, size: number): string | undefined {
  switch (result.kind) {
    case 'partial':
      return `bytes ${result.start}-${result.end}/${size}`;
    case 'unsatisfiable':
      return `bytes */${size}`;
    case 'full':
      return undefined;
    default: {
      const never: never = result;
      return never;
    }
  }
}

/**
 * A recording id is a uuid as `crypto.randomUUID()` spells it: lowercase, canonical 8-4-4-4-12 form. Only ids in
 * this one spelling are accepted where an id becomes a file name (the spool) — never `..`, `/`, NUL or a second
 * spelling of the same id.
 */
const RECORDING_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isRecordingId(id: unknown): id is string {
  return typeof id === 'string' && RECORDING_ID.test(id);
}

/** Asterisk's timestamp format: `2026-11-25T03:57:57.596+0000` (UTC, milliseconds, numeric offset). */
export function asteriskTimestamp(date: Date = new Date()): string {
  return date.toISOString().replace('Z', '+0000');
}

/** HTTP Date header value. */
export function httpDate(date: Date = new Date()): string {
  return date.toUTCString();
}

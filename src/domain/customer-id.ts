/**
 * Customer ids name Redis keys, storage paths and index entries, so they are checked where they enter
 * (tokens file, Redis tokens, flow arguments, channelvars, config): 1–64 of `[A-Za-z0-9._-]`, never `.` or `..`.
 */
const CUSTOMER_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function isCustomerId(value: unknown): value is string {
  return typeof value === 'string' && CUSTOMER_ID.test(value) && value !== '.' && value !== '..';
}

/** What a customer id must look like, for error messages. */
export const CUSTOMER_ID_RULE = '1–64 characters of A-Z a-z 0-9 . _ -, not "." or ".."';

/** Empty means unset everywhere (Asterisk sends `"CUSTOMER_ID": ""` for a channel that never set it). */
export function unsetIfEmpty(value: string | undefined | null): string | undefined {
  return value === undefined || value === null || value.trim() === '' ? undefined : value;
}

import { AppError } from './errors.js';
import { isCustomerId } from './customer-id.js';
import type { Recording } from './recording.js';

/** A key any backend accepts: relative, `/`-separated, no empty, `.` or `..` segment, no NUL or backslash. */
export function isStorageKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024 || key.includes('\0') || key.includes('\\') || key.startsWith('/')) return false;
  return key.split('/').every((p) => p !== '' && p !== '.' && p !== '..');
}

/**
 * Where a recording's file lives in storage: per customer, per day, so listings and retention stay cheap.
 * A recording whose key can never be valid is refused here (INVALID_STORAGE_KEY: permanent, never retried).
 */
export function storageKey(rec: Pick<Recording, 'id' | 'customer_id' | 'tm_create'>): string {
  const key = `${rec.customer_id}/${rec.tm_create.slice(0, 10)}/${rec.id}.wav`;
  if (!isCustomerId(rec.customer_id) || !isStorageKey(key)) throw new AppError('INVALID_STORAGE_KEY', `recording ${rec.id} has no valid storage key`);
  return key;
}

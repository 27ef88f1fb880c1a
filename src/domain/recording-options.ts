import { AppError } from './errors.js';
import type { RecordingOptions } from './recording.js';

const FIELDS = ['format', 'duration', 'end_of_silence', 'end_of_key', 'beep_start', 'sample_rate', 'channels'] as const;
const DTMF = /^[0-9*#A-D]$/;

/**
 * Validates VoIPBIN's recording_start options (REST body and flow-action args alike).
 * Unknown field → UNKNOWN_OPTION; bad value → VALIDATION; both name the field.
 */
export function parseRecordingOptions(input: unknown): RecordingOptions {
  if (input === undefined || input === null) return { format: 'wav' };
  if (typeof input !== 'object' || Array.isArray(input)) throw new AppError('VALIDATION', 'recording options must be a JSON object', { field: 'body' });
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(FIELDS as readonly string[]).includes(k)) throw new AppError('UNKNOWN_OPTION', `unknown option "${k}"`, { field: k });
  }
  const bad = (field: string, why: string) => new AppError('VALIDATION', `${field} ${why}`, { field });
  const out: RecordingOptions = { format: 'wav' };
  if (o.format !== undefined && o.format !== 'wav') throw bad('format', 'must be "wav"');
  const positive = (field: 'duration' | 'end_of_silence', max: number) => {
    const v = o[field];
    if (v === undefined || v === 0) return;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw bad(field, `must be an integer number of seconds between 0 and ${max}`);
    out[field] = v;
  };
  positive('duration', 86400);
  positive('end_of_silence', 3600);
  if (o.end_of_key !== undefined && o.end_of_key !== '') {
    if (typeof o.end_of_key !== 'string' || !DTMF.test(o.end_of_key)) throw bad('end_of_key', 'must be one DTMF key: 0-9, *, #, A-D');
    out.end_of_key = o.end_of_key;
  }
  if (o.beep_start !== undefined) {
    if (typeof o.beep_start !== 'boolean') throw bad('beep_start', 'must be true or false');
    out.beep_start = o.beep_start;
  }
  if (o.sample_rate !== undefined && o.sample_rate !== 8000) {
    if (o.sample_rate !== 16000) throw bad('sample_rate', 'must be 8000 or 16000');
    out.sample_rate = 16000;
  }
  if (o.channels !== undefined && o.channels !== 1) {
    if (o.channels !== 2) throw bad('channels', 'must be 1 or 2');
    out.channels = 2;
  }
  return out;
}

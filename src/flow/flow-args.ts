import { CUSTOMER_ID_RULE, isCustomerId } from '../domain/customer-id.js';
import { AppError } from '../domain/errors.js';
import type { RecordingOptions } from '../domain/recording.js';
import { parseRecordingOptions } from '../domain/recording-options.js';

export type FlowAction =
  | { action: 'recording_start'; options: RecordingOptions; customerId?: string }
  | { action: 'recording_stop'; customerId?: string }
  | { action: 'recording_pause'; behavior: 'skip' | 'silence'; customerId?: string }
  | { action: 'recording_resume'; customerId?: string };

const ACTIONS = ['recording_start', 'recording_stop', 'recording_pause', 'recording_resume'] as const;

/**
 * `Stasis(app,recording_start,format=wav,duration=60)` arrives as args ["recording_start","format=wav","duration=60"].
 * Options use the same names and rules as the REST body; `customer_id=` names the owner. `key=` (empty) is unset.
 * Asterisk trims nothing: `Stasis(app, recording_start, format=wav)` gives " recording_start"; the action's name is
 * taken trimmed and in any case, and an empty argument (`${REC_OPTS}` unset) is no option. Returns null without
 * arguments (a channel that entered Stasis for something else); an unknown action is refused (VALIDATION), so the
 * caller is sent back to the dialplan with a warning instead of waiting in Stasis.
 */
export function parseFlowArgs(args: string[]): FlowAction | null {
  if (args.length === 0) return null;
  const [raw, ...rest] = args;
  const name = raw.trim().toLowerCase();
  const action = ACTIONS.find((a) => a === name);
  if (!action) throw new AppError('VALIDATION', `unknown flow action ${JSON.stringify(raw.slice(0, 64))} (expected one of ${ACTIONS.join(', ')})`, { field: 'action' });
  const fields: Record<string, unknown> = {};
  let customerId: string | undefined;
  for (const arg of rest) {
    if (arg.trim() === '') continue;
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new AppError('VALIDATION', `flow option "${arg}" is not key=value`, { field: arg });
    const key = arg.slice(0, eq).trim();
    const value = arg.slice(eq + 1).trim();
    // Empty means unset (`customer_id=` from a dialplan variable that was never set).
    if (value === '') continue;
    if (key === 'customer_id') {
      if (!isCustomerId(value)) throw new AppError('INVALID_CUSTOMER_ID', `flow customer_id ${JSON.stringify(value)} is not a customer id (${CUSTOMER_ID_RULE})`, { field: 'customer_id' });
      customerId = value;
    } else fields[key] = coerce(value);
  }
  if (action === 'recording_pause') {
    const { pause_behavior: behavior = 'skip', ...others } = fields;
    const extra = Object.keys(others)[0];
    if (extra) throw new AppError('UNKNOWN_OPTION', `recording_pause takes no option "${extra}"`, { field: extra });
    if (behavior !== 'skip' && behavior !== 'silence') throw new AppError('VALIDATION', 'pause_behavior must be skip or silence', { field: 'pause_behavior' });
    return { action, behavior, customerId };
  }
  if (action === 'recording_stop' || action === 'recording_resume') {
    const extra = Object.keys(fields)[0];
    if (extra) throw new AppError('UNKNOWN_OPTION', `${action} takes no option "${extra}"`, { field: extra });
    return { action, customerId };
  }
  return { action, options: parseRecordingOptions(fields), customerId };
}

/** Dialplan args are strings; numbers and booleans are given their JSON meaning before validation. */
function coerce(v: string): unknown {
  if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  if (v === 'true' || v === 'yes') return true;
  if (v === 'false' || v === 'no') return false;
  return v;
}

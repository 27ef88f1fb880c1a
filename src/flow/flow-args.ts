import { CUSTOMER_ID_RULE, isCustomerId } from '../domain/customer-id.js';
import { AppError } from '../domain/errors.js';
import type { RecordingOptions } from '../domain/recording.js';
import { parseRecordingOptions } from '../domain/recording-options.js';

export type FlowAction =
  | { action: 'recording_start'; options: RecordingOptions; customerId?: string }
  | { action: 'recording_stop'; customerId?: string };

/**
 * `Stasis(app,recording_start,format=wav,duration=60)` arrives as args ["recording_start","format=wav","duration=60"].
 * Options use the same names and rules as the REST body; `customer_id=` names the owner. `key=` (empty) is unset.
 * Returns null when the channel entered Stasis for something that is not a flow action.
 */
export function parseFlowArgs(args: string[]): FlowAction | null {
  const [action, ...rest] = args;
  if (action !== 'recording_start' && action !== 'recording_stop') return null;
  const fields: Record<string, unknown> = {};
  let customerId: string | undefined;
  for (const arg of rest) {
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
  if (action === 'recording_stop') {
    const extra = Object.keys(fields)[0];
    if (extra) throw new AppError('UNKNOWN_OPTION', `recording_stop takes no option "${extra}"`, { field: extra });
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

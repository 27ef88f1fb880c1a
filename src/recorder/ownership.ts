import { CUSTOMER_ID_RULE, isCustomerId, unsetIfEmpty } from '../domain/customer-id.js';
import { AppError } from '../domain/errors.js';

interface WithVars {
  id: string;
  channelvars?: Record<string, string>;
}

/**
 * The customer a channel is tagged with: its CUSTOMER_ID (ari.conf `channelvars`). Asterisk sends every listed
 * variable, `""` when unset, so empty means untagged (undefined). A value that is not a customer id throws
 * INVALID_CUSTOMER_ID: nobody may own it, not even the default customer.
 */
export function channelOwner(channel: WithVars): string | undefined {
  const raw = unsetIfEmpty(channel.channelvars?.CUSTOMER_ID);
  if (raw === undefined) return undefined;
  if (!isCustomerId(raw)) throw new AppError('INVALID_CUSTOMER_ID', `channel ${channel.id} has CUSTOMER_ID ${JSON.stringify(raw)}, not a customer id (${CUSTOMER_ID_RULE})`);
  return raw;
}

/**
 * Whose conference this is: the one customer its tagged participants name; untagged participants only → the
 * default customer; participants of different customers → nobody (fails closed: null).
 */
export function conferenceOwner(participants: WithVars[], defaultCustomerId: string): string | null {
  const owners = new Set<string>();
  for (const p of participants) {
    const o = channelOwner(p);
    if (o !== undefined) owners.add(o);
  }
  if (owners.size > 1) return null;
  return owners.values().next().value ?? defaultCustomerId;
}

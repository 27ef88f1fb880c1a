import { hostname } from 'node:os';

/** A node id: letters, digits, `.`, `_`, `-`; 1–64 characters (it goes into Redis keys and logs). */
export const NODE_ID_RULE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isNodeId(v: unknown): v is string {
  return typeof v === 'string' && NODE_ID_RULE.test(v);
}

/**
 * The node's id: RECORDER_NODE_ID when set, else the host name and the Asterisk it sits beside (its `systemname`,
 * else its entity id): stable across restarts, distinct for two daemons beside two Asterisks on one host.
 */
export function defaultNodeId(asterisk: { systemName?: string; entityId?: string }, host = hostname()): string {
  const beside = asterisk.systemName || asterisk.entityId || 'asterisk';
  const id = `${host}-${beside}`.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (id || 'node').slice(0, 64);
}

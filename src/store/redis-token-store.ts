import { isCustomerId } from '../domain/customer-id.js';
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError } from '../domain/errors.js';
import type { RedisKeys } from './keys.js';
import { guard } from './redis-client.js';
import { normalizePermission, type Permission } from '../domain/permissions.js';
import type { TokenInfo, TokenStore } from './types.js';

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Tokens live at `tokens:<sha256(token)>` as JSON {customer_id, permissions[]}; the raw token is never stored. */
export class RedisTokenStore implements TokenStore {
  readonly #redis: Redis;
  readonly #keys: RedisKeys;

  constructor(opts: { redis: Redis; keys: RedisKeys }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
  }

  lookup(token: string): Promise<TokenInfo | null> {
    return guard('lookupToken', async () => {
      if (!token) return null;
      const raw = await this.#redis.get(this.#keys.token(hashToken(token)));
      return raw ? parseTokenInfo(raw) : null;
    });
  }

  put(token: string, info: TokenInfo, ttlSeconds?: number): Promise<void> {
    return guard('putToken', async () => {
      if (!token) throw new AppError('VALIDATION', 'empty token');
      const valid = parseTokenInfo(JSON.stringify(info));
      if (!valid) throw new AppError('VALIDATION', 'token info needs a valid customer_id and known permissions');
      const key = this.#keys.token(hashToken(token));
      if (ttlSeconds && ttlSeconds > 0) await this.#redis.set(key, JSON.stringify(valid), 'EX', ttlSeconds);
      else await this.#redis.set(key, JSON.stringify(valid));
    });
  }

  revoke(token: string): Promise<void> {
    return guard('revokeToken', async () => {
      await this.#redis.del(this.#keys.token(hashToken(token)));
    });
  }
}

/** Validates a stored token record; a malformed one counts as unknown (null). */
function parseTokenInfo(raw: string): TokenInfo | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const o = v as Record<string, unknown>;
  if (!isCustomerId(o.customer_id) || !Array.isArray(o.permissions)) return null;
  const perms = o.permissions.map(normalizePermission).filter((p): p is Permission => p !== undefined);
  if (perms.length !== o.permissions.length) return null;
  return { customer_id: o.customer_id, permissions: [...new Set(perms)] };
}

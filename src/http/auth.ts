import { CUSTOMER_ID_RULE, isCustomerId } from '../domain/customer-id.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { readJsonFile } from '../util/read-json-file.js';

import { normalizePermission, Permissions, type Permission } from '../domain/permissions.js';

export { normalizePermission, Permissions, type Permission };

export interface Principal {
  customer_id: string;
  permissions: Permission[];
}

/** Resolves a bearer token to its customer and permissions; null when the token is unknown. */
export interface Authenticator {
  resolve(token: string): Promise<Principal | null>;
}

export function sha256(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/**
 * The token of a request: `Authorization: Bearer <token>` first, then `?token=<token>` (VoIPBIN's style).
 * Returns undefined when neither is present or the header is not a Bearer credential.
 */
export function extractToken(headers: { authorization?: string }, query: unknown): string | undefined {
  const h = headers.authorization;
  if (typeof h === 'string' && h !== '') {
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(h);
    return m ? m[1] : undefined;
  }
  if (query !== null && typeof query === 'object') {
    const t = (query as Record<string, unknown>).token;
    if (typeof t === 'string' && t !== '') return t;
  }
  return undefined;
}

/** Query parameters of the API whose values may be logged (none of them can carry a credential). */
const LOGGABLE_PARAMS = new Set(['page_size', 'page_token', 'status', 'reference_type', 'reference_id', 'from', 'to']);

/** The URL for logs: the path, and the query with every value redacted except those of LOGGABLE_PARAMS. */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  // Only the values of known harmless parameters are kept, judged by the DECODED name as the query parser sees it:
  // `%74oken`, `t%6Fken`, `token%00`, a name that cannot be decoded, anything unknown — its value is redacted.
  const parts = query.split(/([&;])/).map((part) => {
    if (part === '&' || part === ';' || part === '') return part;
    const eq = part.indexOf('=');
    const rawName = eq < 0 ? part : part.slice(0, eq);
    let name: string | null;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' ')).trim().toLowerCase();
    } catch {
      name = null;
    }
    return name !== null && LOGGABLE_PARAMS.has(name) ? part : `${rawName}=[redacted]`;
  });
  return url.slice(0, q + 1) + parts.join('') + (hash < 0 ? '' : url.slice(hash));
}

interface HashedEntry {
  digest: Buffer;
  principal: Principal;
}

/**
 * Tokens held in memory as sha256 digests. Every lookup compares the digest against every entry with
 * `timingSafeEqual` and never exits early, so timing tells nothing about which (or how much of a) token matched.
 */
export class StaticAuthenticator implements Authenticator {
  readonly #entries: HashedEntry[];

  constructor(entries: Array<{ token: string } & Principal>) {
    this.#entries = entries.map((e) => ({
      digest: sha256(e.token),
      principal: { customer_id: e.customer_id, permissions: [...e.permissions] },
    }));
  }

  get size(): number {
    return this.#entries.length;
  }

  async resolve(token: string): Promise<Principal | null> {
    const digest = sha256(token);
    let found: Principal | null = null;
    for (const e of this.#entries) {
      if (timingSafeEqual(digest, e.digest) && found === null) found = e.principal;
    }
    return found === null ? null : { customer_id: found.customer_id, permissions: [...found.permissions] };
  }
}

/**
 * Validates the content of a tokens file: `{"tokens":[{"token":"…","customer_id":"…","permissions":[…]}]}`.
 * Throws an Error naming the bad entry (never the token itself).
 */
export function parseTokensConfig(raw: unknown, source = 'tokens file'): Array<{ token: string } & Principal> {
  if (raw === null || typeof raw !== 'object' || !Array.isArray((raw as { tokens?: unknown }).tokens)) {
    throw new Error(`${source}: expected {"tokens": [...]}`);
  }
  const tokens = (raw as { tokens: unknown[] }).tokens;
  const seen = new Set<string>();
  return tokens.map((t, i) => {
    const where = `${source}: tokens[${i}]`;
    if (t === null || typeof t !== 'object') throw new Error(`${where}: expected an object`);
    const { token, customer_id, permissions } = t as Record<string, unknown>;
    if (typeof token !== 'string' || token.length < 16) throw new Error(`${where}.token: expected a string of at least 16 characters`);
    if (/\s/.test(token)) throw new Error(`${where}.token: must not contain whitespace`);
    if (!isCustomerId(customer_id)) throw new Error(`${where}.customer_id: expected a customer id (${CUSTOMER_ID_RULE})`);
    if (!Array.isArray(permissions)) throw new Error(`${where}.permissions: expected an array`);
    const perms = permissions.map((p) => {
      const n = normalizePermission(p);
      if (!n) throw new Error(`${where}.permissions: unknown permission ${JSON.stringify(p)} (one of ${Permissions.join(', ')})`);
      return n;
    });
    const digest = sha256(token).toString('hex');
    if (seen.has(digest)) throw new Error(`${where}.token: duplicate token`);
    seen.add(digest);
    return { token, customer_id, permissions: [...new Set(perms)] };
  });
}

/** Loads `TOKENS_FILE`. */
export async function loadTokensFile(path: string): Promise<StaticAuthenticator> {
  return new StaticAuthenticator(parseTokensConfig(await readJsonFile(path, 'tokens file'), `tokens file ${path}`));
}


/** The Redis token store (store/redis-token-store.ts): tokens kept under their sha256, never in clear. */
export interface TokenLookup {
  lookup(token: string): Promise<{ customer_id: string; permissions: readonly string[] } | null>;
}

export class TokenStoreAuthenticator implements Authenticator {
  constructor(private readonly store: TokenLookup) {}

  async resolve(token: string): Promise<Principal | null> {
    const found = await this.store.lookup(token);
    if (!found) return null;
    const permissions = found.permissions.map(normalizePermission).filter((p): p is Permission => p !== undefined);
    return { customer_id: found.customer_id, permissions: [...new Set(permissions)] };
  }
}

/** Asks each authenticator in order; the first that knows the token wins. */
export class CompositeAuthenticator implements Authenticator {
  readonly #chain: readonly Authenticator[];

  constructor(chain: readonly Authenticator[]) {
    this.#chain = chain;
  }

  async resolve(token: string): Promise<Principal | null> {
    for (const a of this.#chain) {
      const p = await a.resolve(token);
      if (p) return p;
    }
    return null;
  }
}
